"""Save and load constructions, and hand them to TransformerLens.

:func:`save` writes one ``.npz`` archive holding ``.npy`` arrays and a JSON manifest, for single-
and multi-hop constructions. The archive is a zip file (``numpy.load`` reads its arrays) with these
members::

    metadata.json              format, versions, kind, config, layout, codebook, seed, and for
                               every array its shape, dtype and SHA-256
    weights/<name>.npy         every weight, by its TransformerLens name
    facts/permutations.npy     [R, N]
    codebook/codes.npy         [M, k]
    read_maps.npy              [R, d_s, k] (single hop)

:func:`load` checks everything before it builds anything — that the file is a zip archive, that
the manifest parses and is of a format this version reads, that every array is present with the
recorded shape, dtype and checksum, that the weights match the config, that the facts are
permutations, and that the subject (entity) embeddings are the superposition the facts, codes
and read maps (chains) say — and raises :class:`ConstructionFileError` naming the first problem.
It never returns a partial object. :func:`save` writes to a temporary file and renames it, so an
interrupted save leaves no partial archive behind.

A path ending in ``.safetensors`` holds the same arrays and manifest as a safetensors file
instead (optional extra ``safetensors``; the manifest is the file's ``geoconstruct`` metadata).

:func:`to_transformer_lens` builds a TransformerLens 4 model (its native bridge) holding the
weights, and :func:`transformer_lens_state_dict` gives the plain state dict (optional extra
``tl``: ``pip install 'geoconstruct[tl]'``).
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
from geoconstruct.codes.codebooks import Codebook, TraceCode
from geoconstruct.constructions.multi_hop import (
    AttentionBound,
    MultiHopConstruction,
    MultiHopLayout,
    chain_keys,
)
from geoconstruct.constructions.single_hop import (
    ResidualLayout,
    SingleHopConstruction,
    Vocabulary,
    superpose,
)
from geoconstruct.facts import Facts
from geoconstruct.model.transformer import TransformerConfig, validate_weights

__all__ = [
    "FORMAT_VERSION",
    "Construction",
    "ConstructionFileError",
    "load",
    "save",
    "to_transformer_lens",
    "transformer_lens_config",
    "transformer_lens_state_dict",
]

FORMAT = "geoconstruct"
FORMAT_VERSION = 1
"""Version of the archive layout; :func:`load` reads exactly this version."""

MANIFEST = "metadata.json"
SAFETENSORS_SUFFIX = ".safetensors"
KINDS = ("single_hop", "multi_hop")
PathLike = str | os.PathLike[str]
Construction = SingleHopConstruction | MultiHopConstruction


class ConstructionFileError(ValueError):
    """A file that is not, or is no longer, a construction this version can load."""


def save(construction: Construction, path: PathLike) -> Path:
    """Write ``construction`` to ``path`` (a zip archive readable by ``numpy.load``).

    Parameters
    ----------
    construction : SingleHopConstruction or MultiHopConstruction
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
    if not isinstance(construction, SingleHopConstruction | MultiHopConstruction):
        raise TypeError(
            "construction must be a SingleHopConstruction or a MultiHopConstruction, got "
            f"{type(construction).__name__}"
        )
    target = Path(path)
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
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    os.close(handle)
    try:
        if target.suffix == SAFETENSORS_SUFFIX:
            safetensors_numpy = _import_safetensors()
            contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
            safetensors_numpy.save_file(
                contiguous, temporary, metadata={FORMAT: json.dumps(manifest)}
            )
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


def load(path: PathLike) -> Construction:
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
    if source.suffix == SAFETENSORS_SUFFIX:
        manifest, arrays = _read_safetensors(source)
    else:
        manifest, arrays = _read_archive(source)
    if manifest["kind"] == "multi_hop":
        return _multi_hop_from(manifest, arrays, source)
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
    book = construction.codebook
    trace = book.trace_code
    common = {
        "config": construction.config.as_dict(),
        "codebook": {
            "family": book.family,
            "decoding": book.decoding,
            "unit_norm": book.unit_norm,
            "coordinate_bound": book.coordinate_bound,
            "trace_code": None if trace is None else {"m": trace.m, "t": trace.t},
        },
        "gate_scale": construction.gate_scale,
        "seed": construction.seed,
    }
    if isinstance(construction, MultiHopConstruction):
        bound = construction.attention_bound
        return {
            "kind": "multi_hop",
            "hops": construction.hops,
            "steps": construction.steps,
            "hops_per_pass": construction.hops_per_pass,
            "residual_layout": construction.layout.as_dict(),
            "attention_bound": {
                "score_gap": bound.score_gap,
                "leakage_bound": bound.leakage_bound,
                "output_error_bound": bound.output_error_bound,
                "decoding_tolerance": bound.decoding_tolerance,
            },
            **common,
        }
    vocabulary = construction.vocabulary
    return {
        "kind": "single_hop",
        "layout": construction.layout,
        "residual_layout": construction.residual_layout.as_dict(),
        "vocabulary": {
            "n_subjects": vocabulary.n_subjects,
            "n_relations": vocabulary.n_relations,
            "n_attributes": vocabulary.n_attributes,
        },
        **common,
    }


def _arrays_of(construction: Construction) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {
        f"weights/{name}": array for name, array in construction.weights.items()
    }
    arrays["facts/permutations"] = construction.facts.permutations
    arrays["codebook/codes"] = construction.codebook.codes
    if isinstance(construction, SingleHopConstruction):
        arrays["read_maps"] = construction.read_maps
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
    if kind not in KINDS:
        raise ConstructionFileError(f"{source} holds a {kind!r} construction")
    required = {"config", "codebook", "gate_scale", "seed", "arrays", "residual_layout"}
    required |= (
        {"layout", "vocabulary"}
        if kind == "single_hop"
        else {"hops", "steps", "hops_per_pass", "attention_bound"}
    )
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
) -> SingleHopConstruction:
    try:
        config, weights = _model_from(manifest, arrays)
        facts = Facts(arrays["facts/permutations"])
        codebook = _codebook_from(manifest["codebook"], arrays["codebook/codes"])
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


def _model_from(
    manifest: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> tuple[TransformerConfig, dict[str, npt.NDArray[Any]]]:
    config = TransformerConfig(**manifest["config"])
    weights = {
        name.removeprefix("weights/"): array
        for name, array in arrays.items()
        if name.startswith("weights/")
    }
    validate_weights(weights, config)
    return config, weights


def _codebook_from(book: dict[str, Any], codes: npt.NDArray[Any]) -> Codebook:
    trace_code = book.get("trace_code")
    return Codebook(
        family=str(book["family"]),
        codes=codes,
        decoding=book["decoding"],
        unit_norm=bool(book["unit_norm"]),
        coordinate_bound=float(book["coordinate_bound"]),
        trace_code=(
            None
            if trace_code is None
            else TraceCode(m=int(trace_code["m"]), t=int(trace_code["t"]))
        ),
    )


def _multi_hop_from(
    manifest: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], source: Path
) -> MultiHopConstruction:
    try:
        config, weights = _model_from(manifest, arrays)
        facts = Facts(arrays["facts/permutations"])
        codebook = _codebook_from(manifest["codebook"], arrays["codebook/codes"])
        spans = manifest["residual_layout"]
        g = int(manifest["hops_per_pass"])
        layout = MultiHopLayout(
            entity=slice(*spans["entity"]),
            relation=slice(*spans["relation"]),
            slots=tuple(slice(*spans[f"slot_{i + 1}"]) for i in range(g)),
            position=slice(*spans["position"]),
            output=slice(*spans["output"]),
            d_model=config.d_model,
        )
        construction = MultiHopConstruction(
            config=config,
            weights=MappingProxyType(weights),
            facts=facts,
            codebook=codebook,
            hops=int(manifest["hops"]),
            steps=int(manifest["steps"]),
            hops_per_pass=g,
            layout=layout,
            attention_bound=AttentionBound(**manifest["attention_bound"]),
            gate_scale=float(manifest["gate_scale"]),
            seed=int(manifest["seed"]),
        )
    except KeyError as error:
        raise ConstructionFileError(f"{source} is missing {error}") from error
    except (TypeError, ValueError) as error:
        raise ConstructionFileError(f"{source} is inconsistent: {error}") from error
    # The entity embeddings must hold the answer of every chain of length 1…g, chain c in slot c.
    keys = chain_keys(facts.n_relations, g)
    entities = np.arange(facts.n_subjects)[:, None]
    expected = codebook.codes[facts.follow(entities, keys)].reshape(facts.n_subjects, -1)
    embeddings = construction.entity_embeddings
    if embeddings.shape != expected.shape or not np.allclose(
        embeddings, expected, rtol=0, atol=float(np.finfo(embeddings.dtype).eps) * 64
    ):
        raise ConstructionFileError(
            f"{source}: the entity embeddings are not the codes of the stored facts' chain "
            "answers (facts and weights do not belong together)"
        )
    return construction


# --- TransformerLens ---------------------------------------------------------------------------


def transformer_lens_config(construction: Construction) -> Any:
    """A ``transformer_lens.TransformerBridgeConfig`` for the construction's model.

    Needs the optional extra ``tl`` (``pip install 'geoconstruct[tl]'``).
    """
    transformer_lens, _ = _import_transformer_lens()
    config = construction.config
    return transformer_lens.TransformerBridgeConfig(
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        d_head=config.d_head,
        d_mlp=config.d_mlp,
        d_vocab=config.d_vocab,
        n_ctx=config.n_ctx,
        act_fn=config.act_fn,
        normalization_type=config.normalization_type,
        positional_embedding_type=config.positional_embedding_type,
        architecture="TransformerLensNative",
    )


def transformer_lens_state_dict(construction: Construction) -> dict[str, Any]:
    """The weights as a plain TransformerLens state dict: the same names, as torch tensors.

    Needs the optional extra ``tl``.
    """
    _, torch = _import_transformer_lens()
    return {
        name: torch.from_numpy(np.array(array, copy=True))
        for name, array in construction.weights.items()
    }


def to_transformer_lens(construction: Construction) -> Any:
    """A TransformerLens model that runs the construction.

    TransformerLens 4's native bridge (``TransformerBridge.boot_native`` with
    ``normalization_type=None``, ``act_fn="relu"``, standard positional embeddings), in the
    construction's dtype, with the weights loaded through TransformerLens's own checkpoint
    conversion; every parameter must match (``strict=True``). ``model(tokens)`` returns logits
    ``[batch, pos, d_vocab]`` for a ``torch`` tensor of token ids.

    Raises
    ------
    ImportError
        Without the optional extra ``tl`` (``pip install 'geoconstruct[tl]'``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from geoconstruct import construct_single_hop, required_dimension
    >>> c = construct_single_hop(200, 2, required_dimension(200, 2), seed=0)
    >>> model = to_transformer_lens(c)
    >>> tokens, answers = c.prompts()
    >>> with torch.no_grad():
    ...     predicted = model(torch.from_numpy(tokens))[:, -1].argmax(-1).numpy()
    >>> bool(np.array_equal(predicted, answers))
    True
    """
    transformer_lens, torch = _import_transformer_lens()
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    config = transformer_lens_config(construction)
    dtype = {"float64": torch.float64, "float32": torch.float32}[construction.config.dtype]
    model = transformer_lens.TransformerBridge.boot_native(config, dtype=dtype)
    state = convert_tl_checkpoint(transformer_lens_state_dict(construction), config)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def _import_safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "files ending in .safetensors need the optional extra: "
            "pip install 'geoconstruct[safetensors]'"
        ) from error
    return safetensors.numpy


def _import_transformer_lens() -> tuple[Any, Any]:
    try:
        import torch
        import transformer_lens
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "the TransformerLens export needs the optional extra: pip install 'geoconstruct[tl]'"
        ) from error
    return transformer_lens, torch
