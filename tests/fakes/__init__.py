"""Small stand-ins for host application modules (``nuke``, ``hou`` and ``hdefereval``, Fusion's ``comp``,
``DaVinciResolveScript``): they keep knob/parm values and connections and record the calls the
FlashDepth adapters make. Tests put them in ``sys.modules`` with monkeypatch."""
