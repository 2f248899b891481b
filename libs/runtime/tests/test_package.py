"""``hub_runtime`` loads no I/O library on import, and each exported name is the object itself."""

import subprocess
import sys
import types


def test_importing_the_package_loads_no_kafka_or_server_library() -> None:
    code = (
        "import sys, hub_runtime;"
        "print(sorted(m for m in ('faststream', 'aiokafka', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_exported_name_is_a_function_or_class_even_after_its_module_loaded() -> None:
    import hub_runtime
    import hub_runtime.bus
    import hub_runtime.serving  # loaded first on purpose: a submodule must not shadow a name

    for name in hub_runtime.__all__:
        assert not isinstance(getattr(hub_runtime, name), types.ModuleType), name
    from hub_runtime import serve

    assert callable(serve)
    assert serve.__module__ == "hub_runtime.serving"
