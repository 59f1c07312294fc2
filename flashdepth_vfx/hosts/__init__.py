"""Logic shared by the host adapters (Nuke, Houdini, Resolve/Fusion): everything that is not a host API call.
Standard library plus :mod:`flashdepth_vfx.bridge` only, Python 3.9+ syntax, so every host Python imports it.
Every name below is also importable from :mod:`flashdepth_vfx.hosts.common`.

``settings`` — a node's settings and the job they make
    ``NodeSettings(plate, output_dir, checkpoint, model, colorspace, mode, frames, device, precision,
    ocio_config, extra_args)``: ``.versioned_job(resume=False)`` the bridge job into the settings' version folder
    (``--resume`` with ``resume``), ``.version()`` that :class:`DepthVersion`, ``.key()`` its settings key,
    ``.job(resume=False)`` the unversioned job (into ``output_dir`` itself). Menus: ``MODELS``, ``MODES``,
    ``DEVICES``, ``PRECISIONS``, ``DEFAULT``; button labels ``RENDER_BUTTON``, ``FINISH_BUTTON``.

``versions`` — versioned outputs and the node status from disk
    ``settings_key(job, output_dir)`` (a hash of ``job_identity``: plates, config, checkpoint and camera by
    content, so one key on every machine; ``legacy_key(job)`` the path-based key of earlier releases, whose
    folders ``NodeSettings.version()`` still finds); ``DepthVersion(key, pattern)`` (``.in_folder(output_dir, key, plate)``,
    ``.folder``, ``.frame_file(f)``, ``.frames_on_disk(frames)``, ``.on_disk()``, ``.to_json()`` /
    ``.from_json(text)`` to store on a node, ``.write_manifest(job)``, ``.manifest()``);
    ``.rendering()`` (a context: the version is being rendered; a render that ends before its first frame leaves
    no version; ``rendering_marker(folder, name)`` for any folder, as the engine marks its output folder with
    ``engine_marker_name()`` before it loads the model); ``list_versions(output_dir)``;
    ``describe_versions(output_dir) -> [VersionInfo]`` (``.label`` for a version menu: settings, frames,
    complete / partial, date) and ``find_version(infos, label)``; ``mark_shown(version, scene, node, previous)`` /
    ``shown_by(folder)``; ``node_status(wanted, file_frames, shown, chosen=False) -> NodeStatus`` with
    ``.state`` (``DepthState`` NONE / CURRENT / PARTIAL / STALE / MISSING), ``.show`` (the version the loader
    should show), ``.chosen`` (picked in the version menu: stays shown, stale while it is not ``wanted``),
    ``.done`` / ``.total``, ``.line()``, ``.label``, ``.colour`` (``STATE_COLOURS``, 0xRRGGBBAA), ``.can_finish``.

``prune`` — removing old versions nobody uses (a node's *Delete old versions*, ``flashdepth-vfx hosts prune``)
    ``plan_folder(output_dir, keep, protect) -> PrunePlan`` (``.remove`` / ``.keep`` with reasons, ``.lines()``),
    ``plan(path, keep)`` over every output folder below ``path``, ``apply(plan)``, ``summary(plan, failed)``;
    ``exr_is_ours(path)`` (the EXR header has ``flashdepth:`` metadata; reads the header's names only),
    ``frame_names(pattern)`` (the file names of a version's own frames).

``frames`` — frame ranges and host time -> file frames
    ``parse_frames(text)``, ``format_frames(frames)``, ``script_frames(text, default)``;
    ``ReadTiming(first, last, mode, value, before, after)`` (a Nuke Read: ``frame_mode`` START_AT / OFFSET /
    EXPRESSION, ``before`` / ``after`` HOLD / LOOP / BOUNCE / BLACK): ``.file_frame(t, expression)``,
    ``.file_frames(ts, expression)``, ``.script_range()``;
    ``LoaderTiming(clip_first, global_in, trim_in, trim_out, hold_first, hold_last)`` (a Fusion Loader):
    ``.file_frames()``, ``.file_frame(t)``, ``.global_out``, ``.for_clip(depth_frames)`` (the depth Loader's
    timing, aligned frame for frame).

``colour`` — what the engine gets for the host's colour settings
    ``engine_colour(colorspace, active_config) -> EngineColour(colorspace, ocio_config)``: the host's OCIO
    config passed through; without one, Nuke's built-in names (``NUKE_DEFAULT_SPACES``: linear, sRGB, rec709,
    Cineon, ...) against ``NUKE_DEFAULT_CONFIG``. ``menu_colorspace(value)`` strips Nuke's ``default (X)``.
    ``config_identity(config)``: what a config is wherever it is installed (its text and the LUTs it reads).

``export`` — upstream (non-file) networks written once per content hash
    ``content_key(parts)``, ``file_stamp(path)``, ``sequence_stamp(pattern, frames)`` (three ``stat`` calls
    whatever the frame count); ``content_stamp(path)`` and ``plate_identity(plate)`` (what a file or plate is,
    wherever it is mounted); ``ExportCache.for_network(output_dir, name, key)``:
    ``.pattern``, ``.missing(frames)`` (only those get exported), ``.mark_done(frames)``, ``.done()``.

``render`` — running renders off the host's main thread
    ``NodeRender(job, engine)`` (``.run(report, is_cancelled)``, or ``.start()`` then poll ``.running`` /
    ``.progress()``; ``.cancel()``, ``.wait()``);
    ``BackgroundRender(key, work, done, slots)``: ``work(render)`` runs in a thread (``render.run_engine(job,
    report)``, ``render.cancelled``), ``done(render, result, message)`` is called exactly once whatever
    ``work`` raised; ``RenderSlots`` (``.start(render)`` refuses a second render of a node, ``.get(key)``);
    ``summary(result)``, ``error_line(exc)``.

``paths`` — file patterns
    ``output_pattern``, ``default_output_dir``, ``frame_file``, ``sequence_frames``, ``sequence_name``,
    ``sequence_from_frame_file``, ``houdini_pattern``.

``camera`` — a host's matchmove camera for the shot solve, and the P / N passes
    ``CameraSample(frame, translate, rotate, focal, h_aperture, v_aperture)`` (file frames; degrees; mm);
    ``chan_text(samples)`` (Nuke ``.chan``, vertical FOV column), ``camera_file(output_dir, text)`` (named by
    content), ``camera_args``, ``pass_args(position, normals)`` (``PASSES``: off / camera / world);
    ``solve_args(...) -> SolveRequest(args, camera_file, camera_text)`` (``.write()`` before the render; Send to
    farm passes it to ``farm.send_in_background``, which puts the camera in the bundle: ``farm.carry_into_bundle``);
    Nuke's channel names ``POSITION_CHANNELS``, ``NORMAL_CHANNELS``.

``controller`` — what a node's buttons do, once for every host
    ``NodeHost`` (a ``typing.Protocol``: the few host operations an adapter supplies for one node: read its
    ``Source``, say / show its status, the shown and chosen version, load a version, ask, run ``later`` / ``now``
    on the main thread, progress, export a node tree's frame); the verbs ``refresh``, ``render``, ``finish``,
    ``cancel``, ``choose_version``, ``show_partial``, ``delete_old_versions`` (planned in a worker, asked on the
    main thread), ``send_to_farm``, ``running``; ``verbs(host)`` binds them to an adapter's node objects.

``cached`` — the single-folder record of the first adapters (``CachedRender``, ``cache_state``,
``status_line``), kept until the Houdini and Resolve nodes move to ``versions``.
"""
