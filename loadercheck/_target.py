"""Resolve a CLI target (``pkg.module:factory`` or ``path/to/file.py:factory``) to a loader object.

Every failure raises :class:`~loadercheck.errors.TargetError` with one paragraph that names the
target, what went wrong and what to do; the original exception is kept as ``__cause__``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType

from .errors import TargetError

_FORM = "TARGET must be 'pkg.module:factory' or 'path/to/file.py:factory'"


def load_target(spec: str) -> object:
    """Import a target and return the loader it names.

    Parameters
    ----------
    spec : str
        ``pkg.module:factory`` (the current directory is importable, as with ``python -m``) or
        ``path/to/file.py:factory`` (the file is imported by path, with its folder put first on
        ``sys.path`` so that its sibling imports work). ``factory`` may be a dotted attribute
        path (``module:Config.loader``).

    Returns
    -------
    object
        The attribute itself when it is iterable (a ``DataLoader``, a dataset, a list of batches,
        a generator); otherwise the result of calling it with no arguments (a function or a
        class used as a zero-argument factory).

    Raises
    ------
    TargetError
        Bad format, module not importable, file not found, attribute missing, factory needing
        arguments, factory raising, factory returning ``None``, or a target that is neither
        iterable nor callable.
    """
    obj, where = resolve(spec)
    if _is_iterable(obj) and not isinstance(obj, type):
        return obj
    if not callable(obj):
        raise TargetError(
            f"{where} is a {type(obj).__name__}, neither a loader (an iterable of batches) nor a "
            "zero-argument factory returning one. Point TARGET at the DataLoader (or any iterable "
            "of batches) or at a function that builds it."
        )
    _check_no_required_args(obj, where)
    try:
        loader = obj()
    except Exception as exc:
        raise TargetError(
            f"the factory {where} raised {type(exc).__name__}: {exc}. Fix the factory (run it "
            "yourself to see the traceback), then run loadercheck again."
        ) from exc
    if loader is None:
        raise TargetError(
            f"the factory {where} returned None; it must return the loader (is a `return` missing?)."
        )
    return loader


LOADER_ROLE = "the loader or a zero-argument function returning it"


def resolve(spec: str, role: str = LOADER_ROLE) -> tuple[object, str]:
    """Import ``spec`` and return ``(attribute, readable name)`` without calling anything.

    Shared by :func:`load_target` and ``--label module:function``; ``role`` says in messages
    what the part after ':' must name.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise TargetError(
            f"{spec!r} has no ':'. {_FORM}, e.g. 'train:make_loader' or 'scripts/train.py:loader', "
            "where the part after ':' names the loader or a zero-argument function returning it."
        )
    module_part, _, attr_part = spec.rpartition(":")
    if not module_part or not attr_part or not all(p.isidentifier() for p in attr_part.split(".")):
        raise TargetError(
            f"{spec!r} is not a valid target: {_FORM}, where the part after ':' is a name such as "
            "'make_loader' (or a dotted path such as 'Config.loader')."
        )
    if _is_path(module_part):
        module = _import_file(module_part, spec)
    else:
        module = _import_module(module_part, spec)
    obj: object = module
    walked = []
    for name in attr_part.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            owner = f"{module_part}:{'.'.join(walked)}" if walked else module_part
            raise TargetError(_missing_attribute(owner, obj, name, spec, role)) from None
        walked.append(name)
    return obj, f"'{spec}'"


def _is_path(module_part: str) -> bool:
    return module_part.endswith(".py") or "/" in module_part or os.sep in module_part


def _import_module(name: str, spec: str) -> ModuleType:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise TargetError(
                f"cannot import module '{name}' for target '{spec}': no module named "
                f"'{exc.name}' (searched the current directory {cwd} and sys.path). Run loadercheck "
                "from the folder that holds the package, install it, or give a file path such as "
                "'path/to/train.py:make_loader'."
            ) from exc
        raise TargetError(
            f"importing module '{name}' for target '{spec}' failed: ModuleNotFoundError: {exc}. "
            "The module itself imports something that is not installed in this environment."
        ) from exc
    except Exception as exc:
        raise TargetError(
            f"importing module '{name}' for target '{spec}' raised {type(exc).__name__}: {exc}. "
            "Fix the error in the module (run `python -c \"import "
            f"{name}\"` to see the traceback)."
        ) from exc


def _import_file(path_text: str, spec: str) -> ModuleType:
    path = Path(path_text).expanduser()
    if not path.is_file():
        where = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise TargetError(
            f"target file '{path_text}' {where} (looked in {Path.cwd()}). Give the path of the "
            "Python file that defines the loader, e.g. 'scripts/train.py:make_loader'."
        )
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.stem.isidentifier() else "_loadercheck_target"
    loaded = sys.modules.get(name)
    if loaded is not None:
        if getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == path:
            return loaded
        name = f"_loadercheck_target_{abs(hash(str(path)))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise TargetError(f"cannot import '{path_text}' as a Python module; {_FORM}.")
    module = importlib.util.module_from_spec(module_spec)
    # Registered under its name so that pickling (DataLoader workers) and dataclasses can find it.
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception):
            raise
        raise TargetError(
            f"importing '{path_text}' for target '{spec}' raised {type(exc).__name__}: {exc}. "
            f"Fix the error in the file (run `python {path_text}` to see the traceback)."
        ) from exc
    return module


def _missing_attribute(owner: str, obj: object, name: str, spec: str, role: str) -> str:
    public = sorted(a for a in dir(obj) if not a.startswith("_"))
    if isinstance(obj, ModuleType):
        # Prefer what the module defines over what it imported.
        own = [a for a in public if _defined_in(getattr(obj, a, None), obj)]
        public = own or public
    close = difflib.get_close_matches(name, public, n=3)
    shown = ", ".join(public[:12]) + (", ..." if len(public) > 12 else "") if public else "nothing public"
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"'{owner}' has no attribute '{name}' ('{spec}').{hint} It defines: {shown}. "
        f"The part after ':' must name {role}."
    )


def _defined_in(value: object, module: ModuleType) -> bool:
    """False for imported modules, functions and classes; True for everything else."""
    if isinstance(value, ModuleType):
        return False
    if inspect.isfunction(value) or inspect.isclass(value):
        return getattr(value, "__module__", None) == module.__name__
    return True


def _is_iterable(obj: object) -> bool:
    cls = type(obj)
    return hasattr(cls, "__iter__") or hasattr(cls, "__getitem__")


def _check_no_required_args(fn: object, where: str) -> None:
    try:
        signature = inspect.signature(fn)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return  # builtins without a signature: just call them
    required = [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise TargetError(
            f"the factory {where} needs arguments ({', '.join(required)}); loadercheck calls it "
            "with none. Write a zero-argument function that builds the loader, e.g. "
            "`def make_loader(): return build(...)`, and point TARGET at it."
        )
