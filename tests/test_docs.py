"""The public API is documented, and the examples in its docstrings run and
print what they say.

Public means: every name in the ``__all__`` of a module of ``NAMESPACES``,
and for a public class every member whose name has no leading underscore
(methods, properties, class- and static methods) plus ``__call__``, wherever
in lossopt it is defined (members inherited from Python's built-in classes,
e.g. an exception's ``with_traceback``, are not lossopt's).  Each must have a
numpydoc ``Examples`` section with at least one doctest that shows a value
(an example that only shows that a call runs does not count), and every module
that defines one of them is run by doctest.  To cover a new public module, add
its name to ``NAMESPACES``; it must define ``__all__``.  ``lossopt.plotting``
is one only where matplotlib is installed.
"""

import doctest
import importlib
import importlib.util
import inspect
import re

import numpy as np
import pytest

NAMESPACES = [
    "lossopt",
    "lossopt.functional",
    "lossopt.losses",
    "lossopt.likelihood",
    "lossopt.optim",
    "lossopt.models",
    "lossopt.datasets",
    "lossopt.demo",
    "lossopt.cli",
]
# the figures' examples draw with matplotlib (the test extra has it)
if importlib.util.find_spec("matplotlib") is not None:
    NAMESPACES.append("lossopt.plotting")

_EXAMPLES = re.compile(r"^[ \t]*Examples[ \t]*\n[ \t]*-{8,}[ \t]*$", re.MULTILINE)
_PARSER = doctest.DocTestParser()


def _members(cls):
    """(name, defining class, documentation) of `cls`'s public members."""
    for name in sorted(dir(cls)):
        if name.startswith("_") and name != "__call__":
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        if not owner.__module__.startswith("lossopt"):
            continue                         # object's, BaseException's, ...
        raw = vars(owner)[name]
        if isinstance(raw, property):
            yield name, owner, raw.__doc__ or ""
        elif isinstance(raw, (staticmethod, classmethod)) or callable(raw):
            # inspect.getdoc: an override without a docstring inherits its base's
            yield name, owner, inspect.getdoc(getattr(cls, name)) or ""


def _public():
    """{qualified name: (object's module name, documentation)} of every public
    function, class and class member of the NAMESPACES."""
    found = {}
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue                     # __version__
            found[f"{obj.__module__}.{obj.__qualname__}"] = (obj.__module__, obj.__doc__ or "")
            if isinstance(obj, type):
                for member, owner, doc in _members(obj):
                    found[f"{owner.__module__}.{owner.__qualname__}.{member}"] = (
                        owner.__module__, doc)
    return found


PUBLIC = _public()
# the namespaces themselves (module docstrings) and every module defining a public name
# and the private modules whose helpers carry examples
DOCTESTED_MODULES = sorted(set(NAMESPACES) | {module for module, _ in PUBLIC.values()}
                           | {"lossopt._tabular"})


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_namespace_has_all(namespace):
    module = importlib.import_module(namespace)
    assert isinstance(getattr(module, "__all__", None), list), f"{namespace} lacks __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{namespace}.__all__ names what it lacks: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{namespace}: duplicates in __all__"


def test_the_walk_sees_every_kind_of_member():
    # guards the walk itself: methods, properties, __call__ and inherited
    # members of every namespace are among the checked names
    for name in ["lossopt.losses._base.Loss", "lossopt.losses._base.Loss.gradient",
                 "lossopt.losses._base.Loss.__call__", "lossopt.losses.regression.GaussianNLL",
                 "lossopt.losses.regression.GaussianNLL.loss_and_gradient",
                 "lossopt.likelihood.Gaussian.loss_scale", "lossopt.likelihood.Distribution.nll",
                 "lossopt.optim.optimizer.Optimizer.step", "lossopt.models._base.NotFittedError",
                 "lossopt.models.mlp._BaseMLP.coefs_", "lossopt.functional.softmax",
                 "lossopt._threads.threads"]:
        assert name in PUBLIC, name
    assert not any(".with_traceback" in name for name in PUBLIC)
    assert len(PUBLIC) > 120


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_has_an_example_with_values(name):
    doc = PUBLIC[name][1]
    match = _EXAMPLES.search(doc)
    assert match, f"{name}: no numpydoc 'Examples' section"
    examples = _PARSER.get_examples(doc[match.end():])
    assert examples, f"{name}: its Examples section has no doctest"
    assert any(example.want.strip() for example in examples), \
        f"{name}: no example shows a value"


@pytest.mark.parametrize("module_name", DOCTESTED_MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    with np.printoptions(legacy=False):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
