"""FlashDepth for DaVinci Resolve and Fusion: :mod:`.fusion_comp` (the comp script for a selected Loader)
and :mod:`.timeline` (the Resolve script for the current timeline clip)."""
