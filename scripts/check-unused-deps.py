"""Every crate of the workspace uses each of its [dependencies]: a dependency that no source file of
the crate names (`name::`, `use name`, `name!`, `extern crate name`) is reported, unless the crate's
Cargo.toml lists it under `[package.metadata.cargo-machete] ignored` with a comment saying why (the
same key cargo-machete reads). Exits non-zero naming each one.
Usage: python3 scripts/check-unused-deps.py
"""
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
problems = []
for member in workspace["workspace"]["members"]:
    for crate in sorted(ROOT.glob(member)):
        manifest = tomllib.loads((crate / "Cargo.toml").read_text())
        ignored = set(manifest.get("package", {}).get("metadata", {}).get("cargo-machete", {}).get("ignored", []))
        sources = set()
        targets = [manifest.get("lib", {})]
        for kind in ["bin", "test", "bench", "example"]:
            targets += manifest.get(kind, [])
        for target in targets:
            if "path" in target:
                sources.add((crate / target["path"]).parent)
        sources.add(crate / "src")
        files = {path for folder in sources for path in folder.rglob("*.rs") if "node_modules" not in path.parts}
        text = "".join(path.read_text() for path in sorted(files))
        for name in manifest.get("dependencies", {}):
            if name in ignored:
                continue
            ident = name.replace("-", "_")
            used = re.search(rf"(\b{ident}::|\buse {ident}\b|\b{ident}!|extern crate {ident}\b)", text)
            if not used:
                problems.append(f"{crate.relative_to(ROOT)}: {name} is declared but never used")
for p in problems:
    print(f"check-unused-deps: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
