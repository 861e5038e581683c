"""The package as users get it: build the sdist and the wheel (offline), check them
as a package index would (``twine check``), install the wheel into a fresh virtual
environment and run the installed ``llmchat-tui`` from there.

The fresh environment gets no network and no pip: the wheel is installed with this
environment's pip (``--no-deps --no-index``), and a ``.pth`` file lends it this
environment's site-packages for the dependencies (not for llmchat_tui itself: the
test checks the wheel's copy is the one imported). About 15 s in all.
"""

from __future__ import annotations

import ast
import email
import email.policy
import os
import re
import shutil
import site
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

pytest.importorskip("build", reason="needs the test extra: pip install -e '.[test]'")
pytest.importorskip("hatchling", reason="needs the test extra: pip install -e '.[test]'")
pytest.importorskip(
    "hatch_fancy_pypi_readme", reason="needs the test extra: pip install -e '.[test]'"
)

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "llmchat_tui"
VERSION = re.search(
    r'__version__ = "([^"]+)"', (SRC / "__init__.py").read_text(encoding="utf-8")
).group(1)  # type: ignore[union-attr]

#: Import names whose distribution is called something else.
DISTRIBUTION_OF = {"markdown_it": "markdown-it-py", "yaml": "pyyaml"}


@dataclass
class Built:
    wheel: Path
    sdist: Path
    metadata: Message


def run(*argv: str | Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{argv} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """``python -m build --no-isolation``: the sdist, then the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, timeout=180)
    [wheel] = out.glob("llmchat_tui-*.whl")
    [sdist] = out.glob("llmchat_tui-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(f"llmchat_tui-{VERSION}.dist-info/METADATA")
    metadata = email.message_from_bytes(raw, policy=email.policy.compat32)
    yield Built(wheel, sdist, metadata)


def test_twine_check_passes(built: Built) -> None:
    if shutil.which("twine", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("twine is not installed")
    output = run(sys.executable, "-m", "twine", "check", "--strict", built.wheel, built.sdist)
    assert output.count("PASSED") == 2, output


def test_the_wheel_holds_the_licence_the_styles_and_the_entry_point(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"llmchat_tui-{VERSION}.dist-info/entry_points.txt").decode()
        licence = archive.read(f"llmchat_tui-{VERSION}.dist-info/licenses/LICENSE").decode()
    assert "llmchat_tui/app.tcss" in names
    assert "MIT License" in licence and "llmchat-tui contributors" in licence
    assert "llmchat-tui = llmchat_tui.cli:main" in entry_points
    # Every module of the source tree is in the wheel.
    modules = {f"llmchat_tui/{p.relative_to(SRC).as_posix()}" for p in SRC.rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_the_sdist_has_the_licence_changelog_and_tests(built: Built) -> None:
    with tarfile.open(built.sdist) as archive:
        names = {name.split("/", 1)[-1] for name in archive.getnames()}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    assert "src/llmchat_tui/app.tcss" in names
    assert "tests/openai_server.py" in names


def test_metadata_licence_classifiers_and_description(built: Built) -> None:
    meta = built.metadata
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    classifiers = meta.get_all("Classifier") or []
    assert not [c for c in classifiers if "Curses" in c or c.startswith("License ::")]
    assert "Environment :: Console" in classifiers
    assert meta["Keywords"] and "ollama" in meta["Keywords"]
    description = meta.get_payload()
    assert isinstance(description, str) and "# llmchat-tui" in description
    # No image with a relative path: it would be broken on a package index page.
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", description)
    assert all(src.startswith("https://") for src in images), images
    assert "*Screenshot: the model picker" in description


def third_party_imports() -> set[str]:
    """Top-level names of every module the package imports that is not its own or
    the standard library's."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names} - {"llmchat_tui"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_everything_imported_is_a_declared_dependency(built: Built) -> None:
    required = {
        normalized(re.split(r"[<>=!~; \[]", spec, maxsplit=1)[0])
        for spec in built.metadata.get_all("Requires-Dist") or []
        if "extra ==" not in spec
    }
    imported = {normalized(DISTRIBUTION_OF.get(name, name)) for name in third_party_imports()}
    assert imported, "found no imports at all"
    assert imported <= required, f"imported but not declared: {sorted(imported - required)}"
    # And the wheel's list is the one in pyproject.toml.
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert len(declared) == len(required)


def test_the_wheel_installs_into_a_fresh_venv_and_runs(built: Built, tmp_path: Path) -> None:
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        built.wheel,
    )
    # Then the dependencies come from this environment (no network); only now, or pip
    # would see this environment's llmchat-tui as installed already and skip the wheel.
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (Path(purelib.strip()) / "_test_dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    where = run(python, "-c", "import llmchat_tui; print(llmchat_tui.__file__)", env=env)
    assert Path(where.strip()).is_relative_to(env_dir), where
    tcss = run(
        python,
        "-c",
        "from importlib.resources import files; print(len(files('llmchat_tui')"
        ".joinpath('app.tcss').read_text()))",
        env=env,
    )
    assert int(tcss) > 100

    command = env_dir / "bin" / "llmchat-tui"
    assert run(command, "--version", env=env).strip() == f"llmchat-tui {VERSION}"
    # A real command against real (empty) files: the installed code runs, not only argparse.
    assert run(command, "--data-dir", tmp_path / "chats", "list", env=env) == ""
