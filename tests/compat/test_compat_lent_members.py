"""0.18's members are lent to the core classes by `lmwrapper.compat018` (see its docstring);
each class declares them under `if TYPE_CHECKING:` for mypy. The two lists must not drift."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lmwrapper"
LENT = [  # (module of the class, class, module of the mixin, mixin)
    ("core/prompt.py", "LmPrompt", "compat018/values.py", "PromptCompat018"),
    ("core/prompt.py", "LmPrediction", "compat018/values.py", "PredictionCompat018"),
    ("engine/predictor.py", "LmPredictor", "compat018/hooks.py", "PredictorCompat018"),
    ("providers/huggingface/predictor.py", "HuggingFacePredictor", "compat018/hf_names.py",
     "HfCompat018"),
]


def _class(path: str, name: str) -> ast.ClassDef:
    tree = ast.parse((PACKAGE / path).read_text())
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _members(nodes: list[ast.stmt]) -> dict[str, str]:
    """name -> signature ("" for an attribute) of the functions and annotations in `nodes`."""
    out = {}
    for n in nodes:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[n.name] = f"({ast.unparse(n.args)}) -> {ast.unparse(n.returns or ast.Constant(None))}"
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            out[n.target.id] = ""
    return out


def _type_checking_block(cls: ast.ClassDef) -> list[ast.stmt]:
    return [s for n in cls.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
            for s in n.body]


@pytest.mark.parametrize(("where", "cls", "mixin_where", "mixin"), LENT)
def test_each_lent_member_is_declared_with_its_signature(where, cls, mixin_where, mixin):
    own = _members(_type_checking_block(_class(where, cls)))
    declared = {**_members(_type_checking_block(_class("engine/predictor.py", "LmPredictor"))),
                **own} if where.startswith("providers/") else own  # a predictor inherits some
    mixin_cls = _class(mixin_where, mixin)
    lent = _members([n for n in mixin_cls.body if not isinstance(n, ast.If)])
    assert set(own) <= set(lent) <= set(declared)
    for name, signature in lent.items():
        if declared[name] and signature:  # an attribute may stand for a cached_property
            assert declared[name] == signature, name


def test_lent_members_are_the_classes_own():
    import lmwrapper
    from lmwrapper.huggingface_wrapper import HuggingFacePredictor

    assert "dict_serialize" in vars(lmwrapper.LmPrompt)
    assert "make_reply_prompt" in vars(lmwrapper.LmPrediction)
    assert "remove_prompt_from_cache" in vars(lmwrapper.LmPredictor)
    assert "space_char" in vars(HuggingFacePredictor)
