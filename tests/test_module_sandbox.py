"""Each function the local runner loads gets its own modules, loggers and boto3 session, as its own Lambda sandbox
would; the process's own copies are untouched."""

from __future__ import annotations

import importlib
import logging
import shutil
import sys
from pathlib import Path

import boto3

import lambda_src.stream_runtime.log
from constructs_pkg.local.sandbox import ModuleSandbox

LIBRARY = """
import logging
CONFIG = {}
LOGGER = logging.getLogger("shared_lib.state")
LOGGER.addHandler(logging.NullHandler())
"""


def _function_dir(root: Path, name: str, value: str) -> Path:
    code = root / name
    code.mkdir()
    (code / "index.py").write_text(
        f"import shared_lib\nshared_lib.CONFIG['value'] = {value!r}\ndef handler(event, context):\n"
        "    import shared_lib.lazy\n    return shared_lib.CONFIG['value'], shared_lib.lazy.NAME\n"
    )
    return code


def _layer_dir(root: Path) -> Path:
    package = root / "layer" / "python" / "shared_lib"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(LIBRARY)
    (package / "lazy.py").write_text("NAME = 'lazy'\n")
    return package.parent


def test_two_functions_named_index_keep_their_own_module_state(tmp_path: Path) -> None:
    # GIVEN two functions whose handlers are both index.handler and which share a library layer with module state
    layer = _layer_dir(tmp_path)
    first = ModuleSandbox([_function_dir(tmp_path, "first", "one"), layer])
    second = ModuleSandbox([_function_dir(tmp_path, "second", "two"), layer])

    # WHEN each loads its handler in turn, and each handler then runs (importing a submodule lazily)
    with first.entered():
        first_handler = importlib.import_module("index").handler
    with second.entered():
        second_handler = importlib.import_module("index").handler
    with first.entered():
        first_result = first_handler({}, None)
    with second.entered():
        second_result = second_handler({}, None)

    # THEN each sees its own configuration, and nothing of either is left in the process
    assert (first_result, second_result) == (("one", "lazy"), ("two", "lazy"))
    assert not {"index", "shared_lib", "shared_lib.lazy"} & set(sys.modules)
    assert "shared_lib.state" not in logging.root.manager.loggerDict
    assert first.own_names == second.own_names == {"index", "shared_lib"}


def test_the_sandbox_copy_of_a_loaded_package_is_separate_and_the_process_copy_comes_back(tmp_path: Path) -> None:
    # GIVEN a layer holding its own copy of the stream runtime, which this process has imported too
    layer = tmp_path / "layer" / "python"
    source = Path(lambda_src.stream_runtime.log.__file__).parent
    shutil.copytree(source, layer / "lambda_src" / "stream_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (layer / "lambda_src" / "__init__.py").write_text("")
    sandbox = ModuleSandbox([tmp_path / "code", layer])
    process_logger = lambda_src.stream_runtime.log.get_logger("lambda_src.example")

    # WHEN the function imports it and configures a logger of the same name
    with sandbox.entered():
        import lambda_src.stream_runtime.log as sandbox_log

        sandbox_logger = sandbox_log.get_logger("lambda_src.example")

    # THEN it used the layer's copy and its own logger, and the process's module and logger are back
    assert Path(sandbox_log.__file__).is_relative_to(layer)
    assert sandbox_logger is not process_logger and len(sandbox_logger.handlers) == 1
    assert sys.modules["lambda_src.stream_runtime.log"] is lambda_src.stream_runtime.log
    assert logging.getLogger("lambda_src.example") is process_logger and len(process_logger.handlers) == 1


def test_packages_pip_installed_in_a_layer_come_from_the_runner_environment_when_it_has_them(tmp_path: Path) -> None:
    # GIVEN a layer into which pip installed boto3 (as its RECORD says) and a function that keeps a default session
    layer = tmp_path / "layer" / "python"
    (layer / "boto3").mkdir(parents=True)
    (layer / "boto3" / "__init__.py").write_text("raise ImportError('the layer copy was imported')\n")
    (layer / "boto3-1.0.dist-info").mkdir()
    (layer / "boto3-1.0.dist-info" / "RECORD").write_text("boto3/__init__.py,,\nboto3-1.0.dist-info/RECORD,,\n")
    sandbox = ModuleSandbox([tmp_path / "code", layer])
    process_session = boto3.DEFAULT_SESSION

    # WHEN the function imports boto3 and sets up its default session
    with sandbox.entered():
        import boto3 as function_boto3

        function_boto3.setup_default_session(region_name="eu-west-1")
        function_session = function_boto3.DEFAULT_SESSION

    # THEN boto3 is the runner's own, and the default session is the function's inside only
    assert "boto3" not in sandbox.own_names and function_boto3 is boto3
    assert boto3.DEFAULT_SESSION is process_session
    with sandbox.entered():
        assert boto3.DEFAULT_SESSION is function_session


def test_modules_added_between_calls_or_by_hand_during_one_are_still_kept_apart(tmp_path: Path) -> None:
    # GIVEN a function whose layer has shared_lib, entered once (so later entries may skip reading sys.modules)
    layer = _layer_dir(tmp_path)
    sandbox = ModuleSandbox([_function_dir(tmp_path, "first", "one"), layer])
    with sandbox.entered():
        handler = importlib.import_module("index").handler
    process_copy = type(sys)("shared_lib")

    try:
        # WHEN the process gets a module of the same name between two calls, and the function puts one in
        # sys.modules by hand (no import) during the second
        sys.modules["shared_lib"] = process_copy
        with sandbox.entered():
            inside = sys.modules["shared_lib"]
            result = handler({}, None)
            sys.modules["shared_lib.by_hand"] = type(sys)("shared_lib.by_hand")

        # THEN the function saw its own copy, the process's came back, and the hand-made module stayed the function's
        assert inside is not process_copy and result == ("one", "lazy")
        assert sys.modules["shared_lib"] is process_copy and "shared_lib.by_hand" not in sys.modules
        with sandbox.entered():
            assert "shared_lib.by_hand" in sys.modules
    finally:
        del sys.modules["shared_lib"]
