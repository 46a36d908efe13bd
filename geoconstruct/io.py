"""Save and load constructions: one ``.npz`` archive holding ``.npy`` arrays and a JSON manifest.

The archive is a zip file (``numpy.load`` reads its arrays) with these members::

    metadata.json              format, versions, config, layout, vocabulary, codebook, seed, and
                               for every array its shape, dtype and SHA-256
    weights/<name>.npy         every weight, by its TransformerLens name
    facts/permutations.npy     [R, N]
    codebook/codes.npy         [M, k]
    read_maps.npy              [R, d_s, k]

:func:`load` checks everything before it builds anything — that the file is a zip archive, that
the manifest parses and is of a format this version reads, that every array is present with the
recorded shape, dtype and checksum, that the weights match the config, that the facts are
permutations, and that the subject embeddings are the superposition the facts, codes and read
maps say — and raises :class:`ConstructionFileError` naming the first problem. It never returns a
partial object. :func:`save` writes to a temporary file and renames it, so an interrupted save
leaves no partial archive behind.
"""

from __future__ import annotations

import hashlib
import io as _bytes_io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct import __version__
from geoconstruct.codebooks import Codebook, TraceCode
from geoconstruct.facts import Facts
from geoconstruct.single_hop import (
    ResidualLayout,
    SingleHopConstruction,
    Vocabulary,
    superpose,
)
from geoconstruct.transformer import TransformerConfig, validate_weights

__all__ = ["FORMAT_VERSION", "ConstructionFileError", "load", "save"]

FORMAT = "geoconstruct"
FORMAT_VERSION = 1
"""Version of the archive layout; :func:`load` reads exactly this version."""

MANIFEST = "metadata.json"
PathLike = str | os.PathLike[str]


class ConstructionFileError(ValueError):
    """A file that is not, or is no longer, a construction this version can load."""


def save(construction: SingleHopConstruction, path: PathLike) -> Path:
    """Write ``construction`` to ``path`` (a zip archive readable by ``numpy.load``).

    Parameters
    ----------
    construction : SingleHopConstruction
    path : str or path-like
        Where to write; an existing file is replaced only once the new one is complete.

    Returns
    -------
    pathlib.Path
        The path written.

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
    if not isinstance(construction, SingleHopConstruction):
        raise TypeError(
            f"construction must be a SingleHopConstruction, got {type(construction).__name__}"
        )
    target = Path(path)
    arrays = _arrays_of(construction)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "geoconstruct_version": __version__,
        "kind": "single_hop",
        "config": construction.config.as_dict(),
        "layout": construction.layout,
        "residual_layout": construction.residual_layout.as_dict(),
        "vocabulary": {
            "n_subjects": construction.vocabulary.n_subjects,
            "n_relations": construction.vocabulary.n_relations,
            "n_attributes": construction.vocabulary.n_attributes,
        },
        "codebook": {
            "family": construction.codebook.family,
            "decoding": construction.codebook.decoding,
            "unit_norm": construction.codebook.unit_norm,
            "coordinate_bound": construction.codebook.coordinate_bound,
            "trace_code": (
                None
                if construction.codebook.trace_code is None
                else {
                    "m": construction.codebook.trace_code.m,
                    "t": construction.codebook.trace_code.t,
                }
            ),
        },
        "gate_scale": construction.gate_scale,
        "seed": construction.seed,
        "arrays": {
            name: {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": _digest(array)}
            for name, array in arrays.items()
        },
    }
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
            for name, array in arrays.items():
                buffer = _bytes_io.BytesIO()
                np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
                archive.writestr(f"{name}.npy", buffer.getvalue())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def load(path: PathLike) -> SingleHopConstruction:
    """Read a construction written by :func:`save`, after checking all of it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ConstructionFileError
        If the file is not a zip archive, is truncated or corrupt, lacks the manifest or an array,
        was written in another format version, or holds arrays whose shape, dtype or checksum
        disagree with the manifest, weights that disagree with the config, or embeddings that
        disagree with the facts.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such file: {source}")
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
    return _construction_from(manifest, arrays, source)


def _arrays_of(construction: SingleHopConstruction) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {
        f"weights/{name}": array for name, array in construction.weights.items()
    }
    arrays["facts/permutations"] = construction.facts.permutations
    arrays["codebook/codes"] = construction.codebook.codes
    arrays["read_maps"] = construction.read_maps
    return arrays


def _digest(array: npt.NDArray[Any]) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _read_manifest(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    if MANIFEST not in archive.namelist():
        raise ConstructionFileError(f"{source} is not a geoconstruct archive: no {MANIFEST}")
    try:
        manifest = json.loads(archive.read(MANIFEST))
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
    if manifest.get("kind") != "single_hop":
        raise ConstructionFileError(f"{source} holds a {manifest.get('kind')!r} construction")
    required = {"config", "layout", "vocabulary", "codebook", "gate_scale", "seed", "arrays"}
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
) -> SingleHopConstruction:
    try:
        config = TransformerConfig(**manifest["config"])
        weights = {
            name.removeprefix("weights/"): array
            for name, array in arrays.items()
            if name.startswith("weights/")
        }
        validate_weights(weights, config)
        facts = Facts(arrays["facts/permutations"])
        book = manifest["codebook"]
        codebook = Codebook(
            family=str(book["family"]),
            codes=arrays["codebook/codes"],
            decoding=book["decoding"],
            unit_norm=bool(book["unit_norm"]),
            coordinate_bound=float(book["coordinate_bound"]),
            trace_code=(
                None
                if book.get("trace_code") is None
                else TraceCode(m=int(book["trace_code"]["m"]), t=int(book["trace_code"]["t"]))
            ),
        )
        spans = manifest["residual_layout"]
        residual = ResidualLayout(
            subject=slice(*spans["subject"]),
            relation=slice(*spans["relation"]),
            output=slice(*spans["output"]),
            d_model=config.d_model,
        )
        vocabulary = Vocabulary(**manifest["vocabulary"])
        read_maps = arrays["read_maps"]
    except KeyError as error:
        raise ConstructionFileError(f"{source} is missing {error}") from error
    except (TypeError, ValueError) as error:
        raise ConstructionFileError(f"{source} is inconsistent: {error}") from error
    construction = SingleHopConstruction(
        config=config,
        weights=MappingProxyType(weights),
        facts=facts,
        codebook=codebook,
        read_maps=read_maps,
        layout=str(manifest["layout"]),
        residual_layout=residual,
        vocabulary=vocabulary,
        gate_scale=float(manifest["gate_scale"]),
        seed=int(manifest["seed"]),
    )
    _check_superposition(construction, source)
    return construction


def _check_superposition(construction: SingleHopConstruction, source: Path) -> None:
    """The stored embeddings must be ``Σ_r B_r u_{π_r(s)}`` for the stored facts."""
    facts, read_maps = construction.facts, construction.read_maps
    codes = construction.codebook.codes
    expected_shape = (facts.n_relations, codes.shape[1])
    if (read_maps.shape[0], read_maps.shape[2]) != expected_shape:
        raise ConstructionFileError(
            f"{source}: read maps of shape {read_maps.shape} do not fit R={facts.n_relations}, "
            f"k={codes.shape[1]}"
        )
    if codes.shape[0] != construction.vocabulary.n_attributes:
        raise ConstructionFileError(f"{source}: {codes.shape[0]} codes for the vocabulary")
    superposition = superpose(facts, codes, read_maps)
    embeddings = construction.subject_embeddings
    if embeddings.shape != superposition.shape:
        raise ConstructionFileError(f"{source}: embeddings do not fit the residual layout")
    resolution = float(np.finfo(embeddings.dtype).eps) * 64
    scale = max(1.0, float(np.abs(codes).max()) * facts.n_relations)
    if not np.allclose(embeddings, superposition, rtol=0, atol=resolution * scale):
        raise ConstructionFileError(
            f"{source}: the subject embeddings are not the superposition of the stored facts' "
            "codes (facts and weights do not belong together)"
        )
