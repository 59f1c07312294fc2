"""A fake of Resolve's ``DaVinciResolveScript`` module: ``scriptapp("Resolve")`` returns :data:`app`,
a project with one timeline whose current video item a test sets up, and a media pool that records imports.

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

    def GetName(self) -> str:
        return self.name

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
