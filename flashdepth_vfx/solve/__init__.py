"""Shot solve: relative disparity to depth in scene units from a matchmove camera, tracked points or anchors."""
