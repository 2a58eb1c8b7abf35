"""`make package`: build every AWS stack offline and lint what CloudFormation would receive.

Steps, each runnable alone from the tests: install infra's node modules; generate the DynamoDB
tables' CloudFormation from `hubbub.adapters.dynamodb_tables`; install the runtime dependencies
(manylinux wheels for CPython 3.12 on arm64, from PyPI) into a directory; zip them with the code
(src/hubbub only) into the one artifact every function runs; run `osls package` for every
service with throwaway credentials; run cfn-lint on each template. Nothing here talks to AWS.

Why one self-contained zip rather than a Lambda layer: osls decides whether a layer must be
uploaded again by asking CloudFormation for the deployed stack while *packaging*, so a service
with a layer cannot be packaged offline; and a layer shared across stacks would be exported by
version ARN, which CloudFormation refuses to change while another stack imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
BUILD = INFRA / ".build"
SERVICES = ("shared", "auth", "conversations", "messages", "realtime")
STAGE = "dev"
TEMPLATE = Path(".serverless") / "cloudformation-template-update-stack.json"

# Dependencies are built for the Lambda runtime, not for this machine.
LAMBDA_PYTHON = "3.12"
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34); pip takes each tag literally.
LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
# Server-only requirements that no Lambda handler imports: the ASGI server and the
# PostgreSQL store. boto3 is left to the runtime's own copy (python3.12 ships it).
NOT_IN_LAMBDA = {"uvicorn", "psycopg", "psycopg-pool", "boto3", "botocore"}
# cfn-lint rules left out, both about what osls itself writes: W3005 flags the DependsOn it
# adds next to an implicit Ref; W6001 its ServiceEndpointWebsocket output, built from the
# WebSocket API id that realtime imports from the shared stack.
CFN_LINT_IGNORED = ("W3005", "W6001")

# Credentials that cannot work: osls only wants some to exist while packaging.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAOFFLINEPACKAGING",
    "AWS_SECRET_ACCESS_KEY": "offline-packaging-not-a-secret",
    "AWS_REGION": "eu-west-1",
    "SLS_TELEMETRY_DISABLED": "1",
    "SLS_NOTIFICATIONS_MODE": "off",
}


def run(cmd: Sequence[str | Path], cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run a command, echoing its output only when it fails."""
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, cmd))} in {cwd}")
    return done.stdout


def npm_install() -> None:
    """`npm ci` in infra/, skipped while node_modules is newer than the lock file."""
    if shutil.which("npm") is None:
        raise SystemExit("npm is required to package the stacks (Node.js 18+)")
    stamp = INFRA / "node_modules" / ".installed"
    lock = INFRA / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    run(["npm", "ci", "--no-audit", "--no-fund"], cwd=INFRA)
    stamp.touch()


def tables_json() -> Path:
    """The tables' CloudFormation, from the module that also creates them for `hubbub migrate`."""
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / "dynamodb-tables.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out.write_text(run([sys.executable, "-m", "hubbub.adapters.dynamodb_tables"], env=env))
    return out


def _zip(target: Path, entries: Iterable[tuple[Path, str]]) -> Path:
    """A deterministic zip (fixed timestamps, sorted): same content, same hash, so osls
    does not publish new function versions when nothing changed."""
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path, name in sorted(entries, key=lambda entry: entry[1]):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(target)
    return target


def _code_files() -> list[Path]:
    """src/hubbub without the built web app (CloudFront serves it) and bytecode caches."""
    package = ROOT / "src" / "hubbub"
    return [
        p
        for p in package.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not p.relative_to(package).as_posix().startswith("static/")
        and p.suffix != ".pyc"
    ]


def lambda_requirements() -> list[str]:
    """The package's runtime requirements (and its `aws` extra, when it has one) minus the
    server-only ones."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + list(
        project.get("optional-dependencies", {}).get("aws", [])
    )
    keep = []
    for requirement in wanted:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name not in NOT_IN_LAMBDA:
            keep.append(requirement)
    return keep


def dependencies_dir() -> Path:
    """The runtime dependencies for Lambda (arm64, CPython 3.12), installed from PyPI's
    manylinux wheels; reinstalled only when the requirements change."""
    target = BUILD / "deps"
    requirements = lambda_requirements()
    digest = hashlib.sha256(
        "\n".join([LAMBDA_PYTHON, *LAMBDA_PLATFORMS, *requirements]).encode()
    ).hexdigest()
    stamp = BUILD / "deps.sha256"
    if target.is_dir() and stamp.exists() and stamp.read_text() == digest:
        return target
    shutil.rmtree(target, ignore_errors=True)
    BUILD.mkdir(parents=True, exist_ok=True)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            *(arg for platform in LAMBDA_PLATFORMS for arg in ("--platform", platform)),
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON,
            "--only-binary=:all:",
            "--target",
            str(target),
            *requirements,
        ]
    )
    stamp.write_text(digest)
    return target


def bundle_zip(with_dependencies: bool = True, target: Path | None = None) -> Path:
    """The artifact of every function: the hubbub package and, unless only templates are
    wanted (tests), its dependencies, both at the zip's root."""
    BUILD.mkdir(parents=True, exist_ok=True)
    target = target or BUILD / "bundle.zip"
    entries = [(p, p.relative_to(ROOT / "src").as_posix()) for p in _code_files()]
    if with_dependencies:
        deps = dependencies_dir()
        entries += [
            (p, p.relative_to(deps).as_posix())
            for p in deps.rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and p.suffix != ".pyc"
            and p.relative_to(deps).parts[0] != "bin"
        ]
    return _zip(target, entries)


def osls_package(service: str, stage: str = STAGE, params: Sequence[str] = ()) -> Path:
    """`osls package` for one service: the CloudFormation template it would deploy.
    `params` are stage parameters as `name=value` (`--param`), e.g. `natGateway=true`."""
    env = {**os.environ, **FAKE_AWS}
    osls = INFRA / "node_modules" / ".bin" / "osls"
    extra = [f"--param={param}" for param in params]
    run([osls, "package", "--stage", stage, *extra], INFRA / service, env)
    return INFRA / service / TEMPLATE


def cfn_lint(templates: Sequence[Path]) -> str:
    """cfn-lint on the templates: errors and warnings fail, except the rules ignored above."""
    linter = Path(sys.executable).with_name("cfn-lint")
    cmd = [str(linter), "--ignore-checks", *CFN_LINT_IGNORED, "--", *map(str, templates)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"cfn-lint found problems ({done.returncode})")
    return str(done.stdout)


def package_all(services: Sequence[str] = SERVICES, with_dependencies: bool = True) -> list[Path]:
    """Everything `make package` does; returns the templates."""
    started = time.monotonic()
    npm_install()
    tables_json()
    if with_dependencies:
        bundle = bundle_zip()
    else:
        # Never where a deploy would pick it up.
        bundle = bundle_zip(False, BUILD / "code-only.zip")
        os.environ["HUBBUB_LAMBDA_ARTIFACT"] = str(bundle)
    with ThreadPoolExecutor(max_workers=3) as pool:
        templates = list(pool.map(osls_package, services))
    cfn_lint(templates)
    with zipfile.ZipFile(bundle) as zf:
        unzipped = sum(info.file_size for info in zf.infolist())
        code = sum(i.compress_size for i in zf.infolist() if i.filename.startswith("hubbub/"))
    print(
        f"bundle.zip {bundle.stat().st_size / 1e6:.2f} MB ({unzipped / 1e6:.2f} MB unzipped;"
        f" Lambda's limit is 250 MB), of which src/hubbub {code / 1e6:.2f} MB"
    )
    for template in templates:
        print(f"{template.relative_to(ROOT)}: cfn-lint clean")
    print(f"packaged {len(templates)} stacks in {time.monotonic() - started:.1f} s")
    return templates


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    parser.add_argument(
        "--code-only",
        action="store_true",
        help="leave the dependencies out of the artifact (checks the templates only)",
    )
    args = parser.parse_args(argv)
    package_all(args.services, with_dependencies=not args.code_only)


if __name__ == "__main__":
    main()
