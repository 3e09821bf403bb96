"""The files of a zip archive or a folder, read under the same guards as single files.

At most `MAX_MEMBERS` files and `MAX_STUDY_BYTES` unpacked; a zip member whose name would
escape the archive (an absolute path or `..`) refuses the whole archive. Folders and hidden
files (`__MACOSX/`, `.DS_Store`) are passed over.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from medcnn.imaging.errors import MAX_MEMBERS, MAX_STUDY_BYTES, UnusableImageError
from medcnn.imaging.volumes import Member
from medcnn.io import one_line


def hidden(name: str) -> bool:
    return any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(name).parts)


def check_count_and_size(count: int, size: int, what: str) -> None:
    if count > MAX_MEMBERS:
        raise UnusableImageError(f"the {what} holds {count} files; the limit is {MAX_MEMBERS}")
    if size > MAX_STUDY_BYTES:
        raise UnusableImageError(
            f"the {what} unpacks to {size / 2**20:.0f} MiB; "
            f"the limit is {MAX_STUDY_BYTES // 2**20} MiB"
        )


def escapes(name: str) -> bool:
    """A member name that would land outside the folder it is unpacked into."""
    path = PurePosixPath(name.replace("\\", "/"))
    drive = bool(path.parts) and ":" in path.parts[0]
    return path.is_absolute() or drive or ".." in path.parts


def zip_members(content: bytes) -> list[Member]:
    """The files of a zip archive (name, bytes), refused whole if any guard trips."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            for info in infos:
                if escapes(info.filename):
                    raise UnusableImageError(
                        f"the zip has a member that points outside it ({info.filename}): refused"
                    )
            infos = [info for info in infos if not hidden(info.filename)]
            check_count_and_size(len(infos), sum(info.file_size for info in infos), "zip")
            return [(info.filename, archive.read(info)) for info in infos]
    except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error, OSError) as error:
        raise UnusableImageError(f"a damaged zip archive ({one_line(str(error))})") from None


def folder_members(folder: Path) -> list[Member]:
    """The regular files under a folder (symbolic links not followed), names relative to it."""
    try:
        paths = sorted(
            path
            for path in folder.rglob("*")
            if path.is_file()
            and not path.is_symlink()
            and not hidden(str(path.relative_to(folder)))
        )
        if not paths:
            raise UnusableImageError("the folder is empty: no files to classify")
        check_count_and_size(len(paths), sum(path.stat().st_size for path in paths), "folder")
        return [(str(path.relative_to(folder)), path.read_bytes()) for path in paths]
    except PermissionError:
        raise UnusableImageError("permission denied: the folder cannot be read") from None
    except OSError as error:
        raise UnusableImageError(f"cannot read the folder ({error.strerror or error})") from None
