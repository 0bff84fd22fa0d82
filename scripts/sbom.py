#!/usr/bin/env python3
"""The supply chain's record and check: one CycloneDX 1.5 SBOM per Lambda function, and the
licences and sources of what each is built from.

    scripts/sbom.py OUT_DIR          writes OUT_DIR/<function>/sbom.cdx.json
    scripts/sbom.py --check          only checks (the harness runs this)

For each crate under functions/, the packages its binary is built from are its normal and build
dependencies, transitively, as Cargo resolves them for the Lambda target (aarch64-unknown-linux-gnu,
from Cargo.lock). Each SBOM component names the package, its version, its licence
expression, its package URL and the SHA-256 that Cargo.lock pins for it. The check fails when a
package comes from anywhere but crates.io or this workspace (no git or other registries), when
Cargo.lock pins no checksum for a crates.io package, or when a package's licence expression cannot
be satisfied by the licences allowed below (an OR needs one allowed side, an AND all sides).
Deployers write the SBOMs beside the zips: `cargo lambda build --release --arm64 --output-format zip`
then `scripts/sbom.py target/lambda` (docs/deploy.md).
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "aarch64-unknown-linux-gnu"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"

# Permissive licences; nothing copyleft is linked into a function.
ALLOWED = {
    "MIT", "MIT-0", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause",
    "BSD-3-Clause", "ISC", "Zlib", "0BSD", "CC0-1.0", "Unlicense", "Unicode-3.0", "BSL-1.0",
}


def allowed(expression):
    """Whether an SPDX expression (with Cargo's older `/` for OR) can be met with ALLOWED."""
    tokens = re.findall(r"\(|\)|[^\s()]+(?:\s+WITH\s+[^\s()]+)?", expression.replace("/", " OR "))
    position = 0

    def parse_or():
        nonlocal position
        result = parse_and()
        while position < len(tokens) and tokens[position] == "OR":
            position += 1
            right = parse_and()
            result = result or right
        return result

    def parse_and():
        nonlocal position
        result = parse_atom()
        while position < len(tokens) and tokens[position] == "AND":
            position += 1
            right = parse_atom()
            result = result and right
        return result

    def parse_atom():
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"unfinished licence expression: {expression}")
        token = tokens[position]
        position += 1
        if token == "(":
            result = parse_or()
            if position >= len(tokens) or tokens[position] != ")":
                raise ValueError(f"unbalanced licence expression: {expression}")
            position += 1
            return result
        return re.sub(r"\s+", " ", token) in ALLOWED

    result = parse_or()
    if position != len(tokens):
        raise ValueError(f"unparsed licence expression: {expression}")
    return result


def self_test():
    """The licence check refuses what it must (so a pass means something)."""
    cases = {
        "MIT OR Apache-2.0": True, "MIT/Apache-2.0": True, "GPL-3.0 OR MIT": True,
        "(MIT OR GPL-2.0) AND BSD-3-Clause": True, "Apache-2.0 WITH LLVM-exception OR GPL-2.0": True,
        "GPL-3.0": False, "GPL-3.0 AND MIT": False, "LGPL-2.1-or-later": False,
        "(MIT OR Apache-2.0) AND AGPL-3.0": False,
    }
    for expression, expected in cases.items():
        assert allowed(expression) is expected, expression


def metadata():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked",
         "--filter-platform", TARGET],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def checksums():
    """Cargo.lock's SHA-256 of each crates.io package, by (name, version)."""
    sums = {}
    text = open(os.path.join(ROOT, "Cargo.lock"), encoding="utf-8").read()
    for block in text.split("[[package]]")[1:]:
        fields = dict(re.findall(r'^(\w+) = "([^"]*)"', block, re.M))
        if "checksum" in fields:
            sums[(fields["name"], fields["version"])] = fields["checksum"]
    return sums


def closure(meta, root_id):
    """The package ids a binary of `root_id` is built from (normal and build dependencies)."""
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    seen, stack = set(), [root_id]
    while stack:
        package = stack.pop()
        if package in seen:
            continue
        seen.add(package)
        for dep in nodes[package]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                stack.append(dep["pkg"])
    return seen


def main(argv):
    check_only = argv == ["--check"]
    if not check_only and len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    self_test()
    meta = metadata()
    sums = checksums()
    packages = {p["id"]: p for p in meta["packages"]}
    members = set(meta["workspace_members"])
    functions = sorted(
        (p for p in meta["packages"] if p["id"] in members
         and os.path.relpath(p["manifest_path"], ROOT).startswith("functions" + os.sep)),
        key=lambda p: p["name"],
    )
    problems = set()
    for function in functions:
        ids = closure(meta, function["id"])
        components = []
        for package_id in sorted(ids, key=lambda i: (packages[i]["name"], packages[i]["version"])):
            package = packages[package_id]
            name, version = package["name"], package["version"]
            ours = package_id in members
            component = {
                "type": "application" if package_id == function["id"] else "library",
                "bom-ref": f"pkg:cargo/{name}@{version}",
                "name": name,
                "version": version,
                "purl": f"pkg:cargo/{name}@{version}",
            }
            if ours:
                component["description"] = "Practica's own crate (this repository)"
            elif package.get("source") != CRATES_IO:
                problems.add(f"{name} {version}: from {package.get('source')}, not crates.io")
            else:
                checksum = sums.get((name, version))
                if not checksum:
                    problems.add(f"{name} {version}: no checksum in Cargo.lock")
                else:
                    component["hashes"] = [{"alg": "SHA-256", "content": checksum}]
                licence = package.get("license")
                if not licence:
                    problems.add(f"{name} {version}: no licence expression")
                else:
                    component["licenses"] = [{"expression": licence}]
                    try:
                        if not allowed(licence):
                            problems.add(f"{name} {version}: licence {licence} is not allowed")
                    except ValueError as error:
                        problems.add(f"{name} {version}: {error}")
            if package_id != function["id"]:
                components.append(component)
            else:
                root = component
        bom = {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {"component": root, "properties": [{"name": "target", "value": TARGET}]},
            "components": components,
        }
        if not check_only:
            directory = os.path.join(argv[0], function["name"])
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, "sbom.cdx.json"), "w", encoding="utf-8") as out:
                json.dump(bom, out, indent=1, sort_keys=True)
                out.write("\n")
        print(f"sbom: {function['name']}: {len(components)} packages")
    if problems:
        for problem in sorted(problems):
            print(f"sbom: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
