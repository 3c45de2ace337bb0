"""The ``tornado`` alias: installed from code, by the runner, and by the .pth hook.

Each case runs in a fresh interpreter, since the alias changes the process's
module table for good.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A child interpreter's whole run, pip builds included, stays under this.
CHILD_TIMEOUT = 60.0
PIP_TIMEOUT = 300.0


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SQUALL_AS_TORNADO"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)]
        if not args
        else [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=CHILD_TIMEOUT,
        check=False,
    )


def _json(code: str, env: dict[str, str] | None = None) -> object:
    result = _run(code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_install_tornado_gives_squall_modules_as_the_same_objects() -> None:
    out = _json(
        """
        import json, sys
        from squall.compat import install_tornado
        install_tornado()
        install_tornado()  # a second call changes nothing
        import tornado, tornado.web, tornado.platform.asyncio
        from tornado.web import RequestHandler
        import squall, squall.web
        print(json.dumps({
            "same": sys.modules["tornado.web"] is sys.modules["squall.web"],
            "nested": tornado.platform.asyncio is sys.modules["squall.platform.asyncio"],
            "cls": RequestHandler is squall.web.RequestHandler,
            "spec": tornado.web.__spec__.name,
            "version": tornado.version,
            "info": list(tornado.version_info),
            "ours": squall.version,
            "lazy": tornado.locks is sys.modules["squall.locks"],
        }))
        """
    )
    assert out == {
        "same": True,
        "nested": True,
        "cls": True,
        "spec": "squall.web",
        "version": "6.6.1",
        "info": [6, 6, 1, 0],
        "ours": __import__("squall").version,
        "lazy": True,
    }


def test_missing_module_under_the_alias_is_module_not_found() -> None:
    out = _json(
        """
        import json
        from squall.compat import install_tornado
        install_tornado()
        import tornado
        try:
            import tornado.no_such_module
        except ModuleNotFoundError as e:
            err = e.name
        print(json.dumps({"err": err, "attr": hasattr(tornado, "no_such_module")}))
        """
    )
    assert out == {"err": "tornado.no_such_module", "attr": False}


def test_install_after_real_tornado_was_imported_refuses() -> None:
    result = _run(
        """
        import tornado
        from squall.compat import install_tornado
        install_tornado()
        """
    )
    assert result.returncode != 0
    assert "TornadoAliasError" in result.stderr
    assert "already imported" in result.stderr


def test_without_the_alias_real_tornado_stays_importable() -> None:
    out = _json(
        """
        import json, tornado, tornado.web
        print(json.dumps({"file": tornado.__file__, "mod": tornado.web.RequestHandler.__module__}))
        """
    )
    assert "squall" not in str(out["file"])  # type: ignore[index]
    assert out["mod"] == "tornado.web"  # type: ignore[index]


def test_tornado_logger_names_reach_squall_loggers() -> None:
    out = _json(
        """
        import json, logging
        from squall.compat import install_tornado
        # Configured before the alias: carried over.
        logging.getLogger("tornado.general").setLevel(logging.ERROR)
        install_tornado()
        seen = []
        class Keep(logging.Handler):
            def emit(self, record):
                seen.append((record.name, record.getMessage()))
        logging.getLogger("tornado").addHandler(Keep())
        logging.getLogger("tornado.access").setLevel(logging.INFO)
        from squall.log import access_log, app_log, gen_log
        access_log.info("one request")
        app_log.warning("app trouble")
        gen_log.warning("dropped: below the level set through tornado.general")
        print(json.dumps({
            "seen": seen,
            "level": logging.getLogger("squall.access").level,
            "child": logging.getLogger("tornado.custom").parent.name,
        }))
        """
    )
    assert out == {
        "seen": [["squall.access", "one request"], ["squall.application", "app trouble"]],
        "level": 20,
        "child": "squall",
    }


def test_squall_gives_submodules_lazily() -> None:
    out = _json(
        """
        import json, sys, squall
        before = "squall.locks" in sys.modules
        lock_cls = squall.locks.Lock.__name__
        try:
            squall.not_a_module
        except AttributeError as e:
            err = str(e)
        print(json.dumps({"before": before, "cls": lock_cls, "err": err,
                          "dir": "web" in dir(squall)}))
        """
    )
    assert out == {
        "before": False,
        "cls": "Lock",
        "err": "module 'squall' has no attribute 'not_a_module'",
        "dir": True,
    }


def test_runner_runs_a_script_with_args_and_passes_the_alias_on(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 'sibling module'\n")
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, sys
            import tornado.ioloop, helper
            print(json.dumps({
                "name": __name__,
                "argv": sys.argv[1:],
                "alias": tornado.ioloop.IOLoop.__module__,
                "helper": helper.VALUE,
                "env": os.environ.get("SQUALL_AS_TORNADO"),
            }))
            """
        )
    )
    result = _run("", "-m", "squall.tornado", str(script), "--port", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "name": "__main__",
        "argv": ["--port", "1"],
        "alias": "squall.ioloop",
        "helper": "sibling module",
        "env": "1",
    }


def test_runner_runs_a_module(tmp_path: Path) -> None:
    (tmp_path / "progmod.py").write_text(
        "import sys, tornado.web\nprint(__name__, tornado.web.__name__, sys.argv[1:])\n"
    )
    env = _env()
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    result = _run("", "-m", "squall.tornado", "-m", "progmod", "x", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["__main__", "squall.web", "['x']"]


def test_python_dash_m_runs_an_aliased_module() -> None:
    # runpy asks the alias's loader for the module's code: `python -m
    # tornado.autoreload` (and the like) must run squall's module.
    script = "import sys; sys.argv[1:] = ['--help']; from squall.compat import install_tornado; "
    script += "install_tornado(); import runpy; "
    script += "runpy.run_module('tornado.httpclient', run_name='__main__', alter_sys=True)"
    result = _run(script)
    assert result.returncode == 0, result.stderr
    assert "Options:" in result.stdout + result.stderr


def test_runner_rejects_bad_usage(tmp_path: Path) -> None:
    assert _run("", "-m", "squall.tornado").returncode == 2
    missing = _run("", "-m", "squall.tornado", str(tmp_path / "absent.py"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    assert _run("", "-m", "squall.tornado", "-m").returncode == 2


def _install_into_fresh_venv(source: Path, venv: Path, *, editable: bool) -> Path:
    """Install ``source`` into a new, empty venv; the running one is never touched.

    (``pip install --prefix`` would uninstall squall from the running
    environment first, so the target is a venv of its own.)
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=CHILD_TIMEOUT,
    )
    python = venv / "bin" / "python"
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    cmd += ["-e", str(source)] if editable else [str(source)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    if result.returncode != 0 and "network" in result.stderr.lower():
        pytest.skip("no package index to fetch the build backend from")
    assert result.returncode == 0, result.stderr
    found = list(venv.glob("lib/python*/site-packages"))
    assert len(found) == 1
    return found[0]


@pytest.mark.slow
@pytest.mark.timeout(PIP_TIMEOUT * 2)
@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_pth_hook_is_installed_and_inert_without_the_variable(
    tmp_path: Path, editable: bool
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "squall", source / "squall", ignore=shutil.ignore_patterns("__pycache__")
    )
    venv = tmp_path / "venv"
    site_dir = _install_into_fresh_venv(source, venv, editable=editable)
    assert (site_dir / "squall-tornado-alias.pth").is_file()
    # A fresh interpreter of that venv reads the .pth at start; the venv has
    # no real Tornado, so without the variable "import tornado" fails.
    probe = textwrap.dedent(
        """
        import json, sys
        try:
            import tornado
            found = [tornado.version, type(tornado).__module__]
        except ModuleNotFoundError:
            found = None
        print(json.dumps({"squall": "squall" in sys.modules, "tornado": found}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SQUALL_AS_TORNADO", "PYTHONPATH")}
    python = str(venv / "bin" / "python")
    results = {}
    for label, extra in (("on", {"SQUALL_AS_TORNADO": "1"}), ("off", {})):
        run = subprocess.run(
            [python, "-c", probe],
            capture_output=True,
            text=True,
            env={**env, **extra},
            cwd=str(tmp_path),
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        results[label] = json.loads(run.stdout)
    assert results["on"] == {"squall": True, "tornado": ["6.6.1", "squall.compat"]}
    assert results["off"] == {"squall": False, "tornado": None}
