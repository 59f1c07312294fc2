"""A fake of Resolve's ``DaVinciResolveScript`` module: ``scriptapp("Resolve")`` returns :data:`app`,
a project with one timeline whose current video item a test sets up, and a media pool that records imports.

Project settings as the scripting README documents ``Project:GetSetting``: a key returns its value as text, an
unknown key a trivial result (""), no key a snapshot of all of them. :attr:`Project.settings` starts as a fresh
project's colour management (``colorScienceMode`` "davinciYRGB": not colour managed); tests set the keys a
colour-managed project reports (``colorSpaceInput``, ``separateColorSpaceAndGamma``, ``colorAcesIDT`` ...).
A media pool item's clip properties include its own "Input Color Space" / "Input Gamma" tags ("" when untagged).

Media pool items have a unique ``GetMediaId()``; the media pool's ``GetRootFolder()`` holds them (folders:
``GetClipList()``, ``GetSubFolderList()``). A timeline item uses part of its media: ``GetLeftOffset()`` frames of
it are cut off before the edit's in point (the newer ``GetSourceStartFrame()`` says the same) and
``GetDuration()`` frames follow. ``resolve.GetMediaStorage().AddClipMattesToMediaPool(item, [paths],
stereoEye)`` adds files as mattes of a media pool item (``MediaPool.GetClipMatteList(item)`` lists them), as the
scripting README documents.

Inside Resolve, scripts get the ``resolve``, ``fusion`` and ``bmd`` objects as globals and the module is often
not importable (it is for external scripting); tests put :data:`app` in a script's globals and make the import
fail to play that."""
from __future__ import annotations

import itertools
import re
from typing import Any, Dict, List, Optional

_IDS = itertools.count(1)


class MediaPoolItem:
    def __init__(self, name: str, file_path: str = "") -> None:
        self.name = name
        self.properties: Dict[str, Any] = {"File Path": file_path, "Clip Name": name}
        self.media_id = f"{next(_IDS):08x}-media"
        self.mattes: List[str] = []

    def GetName(self) -> str:
        return self.name

    def GetMediaId(self) -> str:
        return self.media_id

    def GetClipProperty(self, key: Optional[str] = None) -> Any:
        return dict(self.properties) if key is None else self.properties.get(key, "")


class TimelineItem:
    def __init__(self, name: str, media: Optional[MediaPoolItem], left_offset: int = 0,
                 duration: Optional[int] = None) -> None:
        self.name = name
        self.media = media
        self.left_offset = left_offset
        self.duration = duration

    def GetLeftOffset(self) -> int:
        return self.left_offset

    def GetSourceStartFrame(self) -> int:
        return self.left_offset

    def GetDuration(self) -> int:
        if self.duration is None:  # the whole media: Resolve names a sequence clip by its range
            match = re.search(r"\[(\d+)-(\d+)\]", str(self.media.properties["File Path"]) if self.media else "")
            return int(match.group(2)) - int(match.group(1)) + 1 - self.left_offset if match else 1
        return self.duration

    def GetName(self) -> str:
        return self.name

    def GetMediaPoolItem(self) -> Optional[MediaPoolItem]:
        return self.media


class Timeline:
    def __init__(self, item: Optional[TimelineItem]) -> None:
        self.item = item

    def GetCurrentVideoItem(self) -> Optional[TimelineItem]:
        return self.item


class Folder:
    def __init__(self, clips: Optional[List[MediaPoolItem]] = None) -> None:
        self.clips = list(clips or [])
        self.folders: List["Folder"] = []

    def GetClipList(self) -> List[MediaPoolItem]:
        return list(self.clips)

    def GetSubFolderList(self) -> List["Folder"]:
        return list(self.folders)


class MediaPool:
    def __init__(self) -> None:
        self.imports: List[List[Any]] = []
        self.accept = True
        self.root = Folder()

    def GetRootFolder(self) -> Folder:
        return self.root

    def GetClipMatteList(self, item: MediaPoolItem) -> List[str]:
        return list(item.mattes)

    def ImportMedia(self, items: List[Any]) -> List[MediaPoolItem]:
        self.imports.append(list(items))
        if not self.accept:
            return []
        return [MediaPoolItem(str(i["FilePath"]) if isinstance(i, dict) else str(i)) for i in items]


class Project:
    def __init__(self, timeline: Optional[Timeline], name: str = "Show") -> None:
        self.timeline = timeline
        self.media_pool = MediaPool()
        self.name = name
        self.settings: Dict[str, str] = {"colorScienceMode": "davinciYRGB", "separateColorSpaceAndGamma": "0",
                                         "colorSpaceInput": "Rec.709 Gamma 2.4", "colorSpaceInputGamma": "",
                                         "colorAcesIDT": "No Input Transform"}

    def GetName(self) -> str:
        return self.name

    def GetSetting(self, name: Optional[str] = None) -> Any:
        if not name:
            return dict(self.settings)
        return self.settings.get(name, "")

    def GetCurrentTimeline(self) -> Optional[Timeline]:
        return self.timeline

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool


class ProjectManager:
    def __init__(self, project: Optional[Project]) -> None:
        self.project = project

    def GetCurrentProject(self) -> Optional[Project]:
        return self.project


class MediaStorage:
    def __init__(self) -> None:
        self.accept = True

    def AddClipMattesToMediaPool(self, item: MediaPoolItem, paths: List[str], stereo_eye: str = "") -> bool:
        if not self.accept:
            return False
        item.mattes += list(paths)
        return True


class Resolve:
    def __init__(self, project: Optional[Project]) -> None:
        self.project_manager = ProjectManager(project)
        self.fusion: Any = None
        self.media_storage = MediaStorage()
        if project is not None and project.timeline is not None and project.timeline.item is not None:
            media = project.timeline.item.media  # the timeline's clip comes from the media pool
            if media is not None and media not in project.media_pool.root.clips:
                project.media_pool.root.clips.append(media)

    def GetMediaStorage(self) -> MediaStorage:
        return self.media_storage

    def Fusion(self) -> Any:
        return self.fusion

    def GetProjectManager(self) -> ProjectManager:
        return self.project_manager


app: Optional[Resolve] = None


def scriptapp(name: str) -> Optional[Resolve]:
    assert name == "Resolve", name
    return app
