"""Lazy loading: public names resolved on first use, and layer registration once Keras is loaded.

`import kerasbio` stays light (no TensorFlow), so `kerasbio --version` is instant. Keras finds
kerasbio's layers in a `.keras` file only if they are registered, so `register_when_keras_loads`
imports the layers module as soon as Keras (and TensorFlow, which imports Keras and is imported by
it) has finished loading: at once if it already has, otherwise right after the user imports it.
"""

import importlib
import importlib.abc
import sys

WATCHED = ("keras", "tensorflow")


def lazy_attributes(package, names):
    """Module `__getattr__` and `__dir__` for `package`, importing `names[attr]` on first use.

    `names` maps a public name to the module defining it; a name that is itself a submodule maps
    to its own module path.
    """
    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(names[name])
        value = module if module.__name__ == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__


def _loading(name):
    module = sys.modules.get(name)
    return module is not None and getattr(module.__spec__, "_initializing", False)


def _keras_ready():
    return "keras" in sys.modules and not any(_loading(name) for name in WATCHED)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `callback` once, when the outermost import of the watched modules has finished."""

    def __init__(self, callback):
        self.callback = callback

    def find_spec(self, name, path=None, target=None):
        if name not in WATCHED:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module):
                execute(module)
                self.fire_if_ready(module)

            spec.loader.exec_module = exec_module
        return spec

    def fire_if_ready(self, module):
        module.__spec__._initializing = False
        if _keras_ready() and self in sys.meta_path:
            sys.meta_path.remove(self)
            self.callback()


def register_when_keras_loads(module_name):
    """Import `module_name` now if Keras is loaded, else right after Keras has loaded."""
    if _keras_ready():
        importlib.import_module(module_name)
    elif not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(lambda: importlib.import_module(module_name)))
