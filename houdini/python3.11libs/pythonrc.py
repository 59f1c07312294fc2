"""FlashDepth package start-up check (Houdini runs every pythonrc.py on its path): when the package points at
the wrong folder, say so in one line instead of failing later with a traceback."""


def _check_install() -> None:
    try:
        import flashdepth_houdini.node  # (imports flashdepth_vfx.bridge: the package path is right)
    except Exception as exc:  # noqa: BLE001  (start-up must never show a traceback)
        print(f"FlashDepth: not loaded ({type(exc).__name__}: {exc}); set FLASHDEPTH_VFX in "
              "packages/flashdepth_vfx.json to the flashdepth-vfx folder and restart Houdini")
        return
    flashdepth_houdini.node.register_callbacks()  # records which depth versions the scene's nodes show


_check_install()
