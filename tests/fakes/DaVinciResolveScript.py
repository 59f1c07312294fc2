"""A fake of Resolve's ``DaVinciResolveScript`` module: ``scriptapp("Resolve")`` returns :data:`app`,
a project with one timeline whose current video item a test sets up, and a media pool that records imports.

Project settings as the scripting README documents ``Project:GetSetting``: a key returns its value as text, an
unknown key a trivial result (""), no key a snapshot of all of them. :attr:`Project.settings` starts as a fresh
project's colour management (``colorScienceMode`` "davinciYRGB": not colour managed); tests set the keys a
colour-managed project reports (``colorSpaceInput``, ``separateColorSpaceAndGamma``, ``colorAcesIDT`` ...).
A media pool item's clip properties include its own "Input Color Space" / "Input Gamma" tags ("" when untagged).

Inside Resolve, scripts get the ``resolve``, ``fusion`` and ``bmd`` objects as globals and the module is often
not importable (it is for external scripting); tests put :data:`app` in a script's globals and make the import
fail to play that."""
from __future__ import annotations

from typing import Any, Dict, List, Optional


class MediaPoolItem:
    def __init__(self, name: str, file_path: str = "") -> None:
        self.name = name
        self.properties: Dict[str, Any] = {"File Path": file_path, "Clip Name": name}

    def GetName(self) -> str:
        return self.name

    def GetClipProperty(self, key: Optional[str] = None) -> Any:
        return dict(self.properties) if key is None else self.properties.get(key, "")


class TimelineItem:
    def __init__(self, name: str, media: Optional[MediaPoolItem]) -> None:
        self.name = name
        self.media = media

    def GetName(self) -> str:
        return self.name

    def GetMediaPoolItem(self) -> Optional[MediaPoolItem]:
        return self.media


class Timeline:
    def __init__(self, item: Optional[TimelineItem]) -> None:
        self.item = item

    def GetCurrentVideoItem(self) -> Optional[TimelineItem]:
        return self.item


class MediaPool:
    def __init__(self) -> None:
        self.imports: List[List[Any]] = []
        self.accept = True

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


class Resolve:
    def __init__(self, project: Optional[Project]) -> None:
        self.project_manager = ProjectManager(project)
        self.fusion: Any = None

    def Fusion(self) -> Any:
        return self.fusion

    def GetProjectManager(self) -> ProjectManager:
        return self.project_manager


app: Optional[Resolve] = None


def scriptapp(name: str) -> Optional[Resolve]:
    assert name == "Resolve", name
    return app
