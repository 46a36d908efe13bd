"""Save and load constructions of every kind.

:func:`save` writes one ``.npz`` archive holding ``.npy`` arrays and a JSON manifest. The archive
is a zip file (``numpy.load`` reads its arrays) with these members::

    metadata.json              format, versions, kind, config, residual map, vocabulary, codebook,
                               seed, the recipe's metadata, and for every array its shape, dtype
                               and SHA-256
    weights/<name>.npy         every weight, by its TransformerLens name
    facts/permutations.npy     [R, N]
    codebook/codes.npy         [M, k]
    metadata/<name>.npy        the recipe's arrays (read maps, subject keys)

:func:`load` checks everything before it returns anything: that the file is a zip archive, that
the manifest parses and is of a format this version reads, that every array is present with the
recorded shape, dtype and checksum, and that the weights are exactly what the construction's
recipe (:mod:`~geoconstruct.constructions.registry`) writes from the stored facts, codes and
metadata. It raises :class:`ConstructionFileError` naming the first problem and never returns a
partial object. :func:`save` writes to a temporary file and renames it, so an interrupted save
leaves no partial archive behind.

A path ending in ``.safetensors`` holds the same arrays and manifest as a safetensors file
instead (optional extra ``safetensors``; the manifest is the file's ``geoconstruct`` metadata).
The TransformerLens export is :mod:`geoconstruct.io.transformer_lens`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io as _bytes_io
import json
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct import __version__
from geoconstruct._validation import InputTypeError
from geoconstruct.codes.protocol import Codebook
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.registry import RECIPES
from geoconstruct.facts import Facts
from geoconstruct.model.assembly import ResidualMap
from geoconstruct.model.transformer import TransformerConfig, validate_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = ["FORMAT_VERSION", "ConstructionFileError", "load", "save"]

FORMAT = "geoconstruct"
FORMAT_VERSION = 3
"""Version of the archive layout; :func:`load` reads exactly this version. Version 3: the layouts
``block`` and ``superposed`` read out in place (version 2's are ``block_separate`` and
``superposed_separate``)."""

MANIFEST = "metadata.json"
SAFETENSORS_SUFFIX = ".safetensors"
SUFFIXES = (".npz", SAFETENSORS_SUFFIX)
"""The file formats :func:`save` writes, by suffix."""
PathLike = str | os.PathLike[str]


class ConstructionFileError(ValueError):
    """A file that is not, or is no longer, a construction this version can load."""


def save(construction: Construction, path: PathLike) -> Path:
    """Write ``construction`` to ``path`` (a zip archive readable by ``numpy.load``).

    Parameters
    ----------
    path : str or path-like
        Where to write: ``.npz`` (a zip archive of ``.npy`` arrays and a JSON manifest) or
        ``.safetensors`` (the ``safetensors`` extra). An existing file is replaced only once the
        new one is complete; the new file's mode follows the umask, as ``open`` would give it.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputTypeError
        If ``construction`` is not a :class:`Construction`.
    ValueError
        For another suffix, or a folder that does not exist (nothing is written).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geoconstruct import construct_single_hop, required_dimension
    >>> c = construct_single_hop(100, 2, required_dimension(100, 2), seed=4)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     loaded = load(save(c, pathlib.Path(folder) / "c.npz"))
    >>> loaded.facts == c.facts, loaded.recall() == c.recall()
    (True, True)
    """
    if not isinstance(construction, Construction):
        raise InputTypeError(
            f"construction must be a Construction, got {type(construction).__name__}"
        )
    target = Path(path)
    if target.is_dir():
        raise ValueError(
            f"cannot save to {target}: it is a folder; give a file name in it ending in "
            f"{' or '.join(SUFFIXES)}"
        )
    if target.suffix not in SUFFIXES:
        raise ValueError(
            f"cannot save to {target}: the suffix must be one of {', '.join(SUFFIXES)}, got "
            f"{target.suffix or 'none'}"
        )
    if not target.parent.is_dir():
        raise ValueError(f"cannot save to {target}: the folder {target.parent} does not exist")
    arrays = _arrays_of(construction)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "geoconstruct_version": __version__,
        **_description(construction),
        "arrays": {
            name: {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": _digest(array)}
            for name, array in arrays.items()
        },
    }
    # a fresh name beside the target, created by the writer below (so its mode follows the umask)
    temporary = str(target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        if target.suffix == SAFETENSORS_SUFFIX:
            safetensors_numpy = _import_safetensors()
            contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
            safetensors_numpy.save_file(
                contiguous, temporary, metadata={FORMAT: json.dumps(manifest)}
            )
            os.chmod(temporary, 0o666 & ~_umask())  # its writer makes it private: as open would
        else:
            with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
                for name, array in arrays.items():
                    buffer = _bytes_io.BytesIO()
                    contiguous_array = np.ascontiguousarray(array)
                    np.lib.format.write_array(buffer, contiguous_array, allow_pickle=False)
                    archive.writestr(f"{name}.npy", buffer.getvalue())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    """The process's umask (read without changing it where /proc shows it)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("Umask:")).split()[1], 8
        )
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def load(path: PathLike) -> Construction:
    """Read a construction written by :func:`save`, after checking all of it.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save` (``.npz`` or ``.safetensors``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ConstructionFileError
        If the file is not a zip archive, is truncated or corrupt, lacks the manifest or an array,
        was written in another format version, or holds arrays whose shape, dtype or checksum
        disagree with the manifest, or weights that are not what the recipe writes from the
        stored facts, codes and metadata.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such file: {source}")
    if source.suffix == SAFETENSORS_SUFFIX:
        manifest, arrays = _read_safetensors(source)
    else:
        manifest, arrays = _read_archive(source)
    return _construction_from(manifest, arrays, source)


def _read_archive(source: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    try:
        with zipfile.ZipFile(source) as archive:
            manifest = _read_manifest(archive, source)
            arrays = {
                name: _read_array(archive, name, spec, source)
                for name, spec in manifest["arrays"].items()
            }
    except zipfile.BadZipFile as error:
        raise ConstructionFileError(
            f"{source} is not a readable geoconstruct archive "
            f"(corrupt, truncated or not a zip file: {error})"
        ) from error
    except (EOFError, OSError) as error:
        raise ConstructionFileError(f"{source} is truncated or corrupt: {error}") from error
    return manifest, arrays


def _read_safetensors(source: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    _import_safetensors()
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(source, framework="numpy") as handle:
            text = (handle.metadata() or {}).get(FORMAT)
            if text is None:
                raise ConstructionFileError(
                    f"{source} is a safetensors file without a geoconstruct manifest"
                )
            manifest = _parse_manifest(text, source)
            present = set(handle.keys())
            arrays = {}
            for name, spec in manifest["arrays"].items():
                if name not in present:
                    raise ConstructionFileError(f"{source} is missing the array {name!r}")
                arrays[name] = _checked(np.array(handle.get_tensor(name)), name, spec, source)
    except (SafetensorError, OSError) as error:
        raise ConstructionFileError(
            f"{source} is not a readable safetensors file (corrupt or truncated: {error})"
        ) from error
    return manifest, arrays


def _description(construction: Construction) -> dict[str, Any]:
    """The manifest's fields that describe the construction (everything but the arrays)."""
    fields, _ = construction.metadata.to_manifest()
    return {
        "kind": construction.kind,
        "config": construction.config.as_dict(),
        "residual_layout": construction.residual.as_dict(),
        "vocabulary": dataclasses.asdict(construction.vocabulary),
        "codebook": construction.codebook.to_manifest(),
        "metadata": fields,
        "seed": construction.seed,
    }


def _arrays_of(construction: Construction) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {
        f"weights/{name}": array for name, array in construction.weights.items()
    }
    arrays["facts/permutations"] = construction.facts.permutations
    arrays["codebook/codes"] = construction.codebook.codes
    _, metadata_arrays = construction.metadata.to_manifest()
    arrays |= {f"metadata/{name}": array for name, array in metadata_arrays.items()}
    return arrays


def _digest(array: npt.NDArray[Any]) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _read_manifest(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    if MANIFEST not in archive.namelist():
        raise ConstructionFileError(f"{source} is not a geoconstruct archive: no {MANIFEST}")
    return _parse_manifest(archive.read(MANIFEST), source)


def _parse_manifest(text: str | bytes, source: Path) -> dict[str, Any]:
    """The manifest, after checking its format, version, kind and fields."""
    try:
        manifest = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConstructionFileError(f"{source}: {MANIFEST} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConstructionFileError(f"{source} is not a geoconstruct archive (format field)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ConstructionFileError(
            f"{source} has format version {manifest.get('format_version')!r} (written by "
            f"geoconstruct {manifest.get('geoconstruct_version')!r}); this geoconstruct "
            f"{__version__} reads format version {FORMAT_VERSION}"
        )
    kind = manifest.get("kind")
    if kind not in RECIPES:
        raise ConstructionFileError(f"{source} holds a {kind!r} construction")
    required = {"config", "codebook", "metadata", "seed", "arrays", "residual_layout"}
    required |= {"vocabulary"}
    missing = sorted(required - set(manifest))
    if missing:
        raise ConstructionFileError(f"{source}: {MANIFEST} lacks {missing}")
    return manifest


def _read_array(
    archive: zipfile.ZipFile, name: str, spec: dict[str, Any], source: Path
) -> npt.NDArray[Any]:
    member = f"{name}.npy"
    if member not in archive.namelist():
        raise ConstructionFileError(f"{source} is missing the array {name!r}")
    with archive.open(member) as stream:
        try:
            array = np.lib.format.read_array(stream, allow_pickle=False)
        except ValueError as error:
            raise ConstructionFileError(
                f"{source}: array {name!r} is unreadable: {error}"
            ) from error
    return _checked(array, name, spec, source)


def _checked(
    array: npt.NDArray[Any], name: str, spec: dict[str, Any], source: Path
) -> npt.NDArray[Any]:
    """``array`` made read-only, if its shape, dtype and checksum are the manifest's."""
    if list(array.shape) != spec.get("shape") or str(array.dtype) != spec.get("dtype"):
        raise ConstructionFileError(
            f"{source}: array {name!r} has shape {list(array.shape)} and dtype {array.dtype}, "
            f"the manifest says {spec.get('shape')} and {spec.get('dtype')}"
        )
    if _digest(array) != spec.get("sha256"):
        raise ConstructionFileError(f"{source}: array {name!r} does not match its checksum")
    array.flags.writeable = False
    return array


def _construction_from(
    manifest: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], source: Path
) -> Construction:
    """Reassemble the construction with its recipe and check the stored weights against it."""
    recipe = RECIPES[manifest["kind"]]
    try:
        config = TransformerConfig(**manifest["config"])
        weights = {
            name.removeprefix("weights/"): array
            for name, array in arrays.items()
            if name.startswith("weights/")
        }
        validate_weights(weights, config)
        facts = Facts(arrays["facts/permutations"])
        codebook = Codebook.from_manifest(manifest["codebook"], arrays["codebook/codes"])
        metadata_arrays = {
            name.removeprefix("metadata/"): array
            for name, array in arrays.items()
            if name.startswith("metadata/")
        }
        metadata = recipe.read_metadata(manifest["metadata"], metadata_arrays)
        seed = int(manifest["seed"])
        rebuilt = recipe.assemble(facts, codebook, metadata, config.d_model, config.dtype, seed)
        stored_layout = ResidualMap.from_dict(manifest["residual_layout"], config.d_model)
        stored_vocabulary = Vocabulary(**manifest["vocabulary"])
    except KeyError as error:
        raise ConstructionFileError(f"{source} is missing {error}") from error
    except (TypeError, ValueError, IndexError) as error:
        raise ConstructionFileError(f"{source} is inconsistent: {error}") from error
    if rebuilt.config != config:
        raise ConstructionFileError(
            f"{source}: the config is not the one the {manifest['kind']} recipe builds from the "
            "stored facts, codes and metadata"
        )
    if rebuilt.residual != stored_layout or rebuilt.vocabulary != stored_vocabulary:
        raise ConstructionFileError(
            f"{source}: the residual layout or vocabulary disagrees with the recipe's"
        )
    for name, array in weights.items():
        if not np.array_equal(array, rebuilt.weights[name]):
            raise ConstructionFileError(
                f"{source}: {name} is not what the {manifest['kind']} recipe writes from the "
                "stored facts, codes and metadata (facts and weights do not belong together)"
            )
    return rebuilt


def _import_safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "files ending in .safetensors need the optional extra: "
            "pip install 'geoconstruct[safetensors]'"
        ) from error
    return safetensors.numpy
