"""Every hook is specified, documented with a working example, and tested.

In the spirit of Datasette's ``test_plugins.py::test_plugin_hooks_are_documented``:
adding a hook to ``core/hookspecs.py`` without its docstring, its section in
``docs/plugins.md`` or a test fails here, naming what is missing.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import ModuleType

import pluggy
import pytest

from core import hookspecs
from core.pluginhost.markers import PROJECT_NAME

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "plugins.md"
TESTS = Path(__file__).resolve().parent
HOOKSPECS_SOURCE = Path(hookspecs.__file__)


def hook_names() -> list[str]:
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if getattr(value, f"{PROJECT_NAME}_spec", None) is not None
    )


HOOKS = hook_names()


def doc_sections() -> dict[str, str]:
    """``## heading`` → the text up to the next ``## `` heading."""
    sections: dict[str, str] = {}
    parts = re.split(r"^## +(.+?)\s*$", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[heading.strip("` ")] = body
    return sections


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_there_are_hooks():
    assert {"register_template_dirs", "extra_home_sections", "handle_event"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_docstring_says_when_it_is_called_and_what_it_returns(hook: str):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 80, f"{hook}: the docstring is missing or too short"
    assert re.search(r"\bcalled\b", doc, re.IGNORECASE), f"{hook}: say when it is called"
    assert re.search(r"\breturns?\b", doc, re.IGNORECASE), f"{hook}: say what it returns"


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_has_type_hints(hook: str):
    spec = inspect.signature(getattr(hookspecs, hook))
    assert spec.return_annotation is not inspect.Signature.empty, f"{hook}: annotate the return"
    for parameter in spec.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{hook}: {parameter.name}"


def test_hookspecs_are_signatures_only():
    # Behaviour belongs in core or in plugins; the spec module stays a readable contract.
    tree = ast.parse(HOOKSPECS_SOURCE.read_text(encoding="utf-8"))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert sorted(f.name for f in functions) == HOOKS, "every function here must be a @hookspec"
    for function in functions:
        body = function.body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), f"{function.name}: body"
        assert isinstance(body[0].value, ast.Constant), f"{function.name}: docstring only"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_documentation_section_with_an_example(hook: str):
    sections = doc_sections()
    assert hook in sections, f"docs/plugins.md has no '## {hook}' section"
    examples = python_blocks(sections[hook])
    assert examples, f"'## {hook}' in docs/plugins.md has no ```python example"
    assert any(re.search(rf"@hookimpl\s*\ndef {hook}\(", code) for code in examples), (
        f"no example in '## {hook}' implements it with @hookimpl def {hook}(...)"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_examples_in_the_docs_register_against_the_spec(hook: str):
    # Run each example and register it: pluggy refuses an implementation whose
    # arguments the hook does not offer, so a stale example fails here.
    for index, code in enumerate(python_blocks(doc_sections()[hook])):
        module = ModuleType(f"docs_example_{hook}_{index}")
        module.__file__ = str(DOCS)
        exec(
            compile(code, f"docs/plugins.md ## {hook} (example {index + 1})", "exec"), vars(module)
        )
        pm = pluggy.PluginManager(PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        pm.register(module)
        pm.check_pending()
        assert pm.hook.__dict__[hook].get_hookimpls(), f"example {index + 1} does not implement it"


def test_every_hook_like_section_in_the_docs_is_a_hook():
    # A renamed or removed hook must not leave its section behind.
    documented = {name for name in doc_sections() if re.fullmatch(r"[a-z]+(_[a-z]+)+", name)}
    assert documented <= set(HOOKS), f"documented but no such hook: {documented - set(HOOKS)}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook: str):
    this_file = Path(__file__).resolve()
    users = [
        path.name
        for path in sorted(TESTS.rglob("test_*.py"))
        if path.resolve() != this_file
        and re.search(rf"\b{hook}\b", path.read_text(encoding="utf-8"))
    ]
    assert users, f"no test in tests/ mentions the hook {hook}"
