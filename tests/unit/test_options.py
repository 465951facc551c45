"""ReadOptions: every reading option's default and check, in one frozen dataclass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from handocr import recognize
from handocr.api import Recognizer
from handocr.errors import ExitCode, OptionError
from handocr.labels import Charset
from handocr.options import MODEL_OPTIONS, ReadOptions, parse_pages
from handocr.segment.config import SegmentConfig

BAD_VALUES = [
    ({"models": ()}, "models"),
    ({"models": ["cnn", ""]}, "models"),
    ({"models": [3]}, "models"),
    ({"line_models": ["ppocrv5-rec", ""]}, "line_models"),
    ({"line_models": 3}, "line_models"),
    ({"device": "gpu"}, "device"),
    ({"device": 0}, "device"),
    ({"backend": "tensorrt"}, "backend"),
    ({"voting": "borda"}, "voting"),
    ({"binarize": "niblack"}, "binarize"),
    ({"cascade": "sometimes"}, "cascade"),
    ({"cascade": 1.5}, r"\[0, 1\]"),
    ({"cascade": "-0.1"}, r"\[0, 1\]"),
    ({"cascade": True}, "cascade"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"dpi": 0}, "dpi"),
    ({"dpi": 72.5}, "dpi"),
    ({"dpi": False}, "dpi"),
    ({"pages": "3-1"}, "pages: 3-1 is reversed; write 1-3"),
    ({"pages": ""}, "pages: no page given"),
    ({"pages": []}, "pages"),
    ({"pages": [0, 2]}, "pages"),
    ({"segment": {"cut_ink": 0.5}}, "SegmentConfig"),
    ({"charset": "€"}, "47 EMNIST classes"),
    ({"charset": ""}, "no character"),
    ({"charset": 7}, "charset"),
    ({"letter_prior": -0.5}, "letter_prior"),
    ({"letter_prior": float("nan")}, "letter_prior"),
    ({"letter_prior": "often"}, "letter_prior"),
    ({"deskew": "yes"}, "deskew"),
    ({"combs": 1}, "combs"),
    ({"search": 1}, "search"),
    ({"word_context": 0}, "word_context"),
    ({"case_context": "no"}, "case_context"),
    ({"remove_lines": "no"}, "remove_lines"),
    ({"hysteresis": 0.6}, "hysteresis"),
    ({"bars_as_i": None}, "bars_as_i"),
    ({"kind": "typed"}, "kind must be one of all, handwritten, printed"),
    ({"kind": None}, "kind"),
    ({"reject_below": 1.5}, r"reject_below must be in \[0, 1\]"),
    ({"reject_below": "half"}, "reject_below"),
    ({"lexicon": "no-such-list"}, "lexicon must be one of names, words-en, words-de"),
    ({"lexicon": 3}, "lexicon must be one of"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_VALUES, ids=[str(c) for c, _ in BAD_VALUES])
def test_every_check_raises_an_option_error(changes: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message) as info:
        ReadOptions(**changes)
    assert isinstance(info.value, ValueError) and info.value.exit_code == ExitCode.USAGE
    # the same checks guard replace() and the Recognizer
    with pytest.raises(OptionError, match=message):
        ReadOptions().replace(**changes)
    with pytest.raises(OptionError, match=message):
        Recognizer(**changes)


def test_the_checked_fields_are_every_field() -> None:
    # a field added without a check (and a line in BAD_VALUES) fails here
    checked = {name for changes, _ in BAD_VALUES for name in changes}
    assert checked == set(ReadOptions().as_dict())


def test_options_are_grouped_by_stage_and_each_stage_owns_its_fields() -> None:
    opts = ReadOptions(charset="digits", dpi=72, deskew=False, voting="soft", search=False)
    assert list(opts.stages()) == ["input", "clean", "model", "segment", "search", "decode"]
    assert opts.input.dpi == 72 and opts.clean.deskew is False and opts.model.voting == "soft"
    assert opts.search.enabled is False and opts.decode.charset == Charset.parse("digits")
    # flat names read through to their stage; stage configs and flat keywords mix
    assert opts.dpi == 72 and opts.charset is opts.decode.charset
    mixed = ReadOptions(decode=opts.decode, letter_prior=0.0)
    assert mixed.charset == opts.charset and mixed.letter_prior == 0.0
    assert ReadOptions(**opts.stages()) == opts and ReadOptions(**opts.as_dict()) == opts
    import pickle

    assert pickle.loads(pickle.dumps(opts)) == opts  # process pools of handocr batch
    with pytest.raises(OptionError, match="clean must be a CleanConfig"):
        ReadOptions(clean=opts.decode)


@pytest.mark.parametrize(
    ("name", "close"),
    [("chrset", "charset"), ("letterprior", "letter_prior"), ("deskw", "deskew")],
)
def test_unknown_option_names_the_close_match(name: str, close: str) -> None:
    with pytest.raises(OptionError, match=f"unknown reading option '{name}'; did you mean {close}"):
        ReadOptions.of(**{name: 1})
    with pytest.raises(OptionError, match=f"did you mean {close}"):
        ReadOptions().replace(**{name: 1})
    with pytest.raises(OptionError, match=f"did you mean {close}"):
        Recognizer(**{name: 1})
    with pytest.raises(OptionError, match=f"did you mean {close}"):
        recognize(np.full((8, 8), 255, np.uint8), **{name: 1})


def test_an_option_without_a_close_match_gets_no_hint() -> None:
    with pytest.raises(OptionError, match=r"^unknown reading option 'zzzz'$"):
        ReadOptions.of(zzzz=1)


def test_options_are_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        ReadOptions(("cnn",))  # type: ignore[misc]
    opts = ReadOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.dpi = 72  # type: ignore[misc]


def test_text_values_are_resolved_once() -> None:
    opts = ReadOptions(charset="digits", pages="1-3,7", cascade="0.25", models="cnn.tiny")
    assert opts.charset == Charset.parse("digits") and isinstance(opts.charset, Charset)
    assert opts.charset.spec == "digits" and str(opts.charset) == "digits"
    assert opts.pages == frozenset({1, 2, 3, 7}) and isinstance(opts.pages, frozenset)
    assert opts.cascade == 0.25 and isinstance(opts.cascade, float)
    assert opts.models == ("cnn.tiny",)
    assert ReadOptions(models=["cnn.a", "cnn.b"]).models == ("cnn.a", "cnn.b")
    assert ReadOptions(pages=[2, 1]).pages == frozenset({1, 2})
    assert ReadOptions(letter_prior=1).letter_prior == 1.0
    assert isinstance(ReadOptions(letter_prior=1).letter_prior, float)
    assert ReadOptions(cascade="auto").cascade == "auto"
    # a resolved Charset passes through unchanged
    cs = Charset.parse("upper")
    assert ReadOptions(charset=cs).charset is cs


def test_defaults() -> None:
    from handocr.decode import LETTER_PRIOR
    from handocr.io import PDF_DPI

    d = ReadOptions()
    assert (d.models, d.device, d.backend, d.voting, d.cascade) == (
        None,
        "auto",
        "auto",
        "weighted",
        "auto",
    )
    assert (d.batch_size, d.dpi, d.pages, d.charset) == (1024, PDF_DPI, None, None)
    assert d.letter_prior == LETTER_PRIOR and d.segment == SegmentConfig()
    assert d.deskew and d.search and d.word_context and d.case_context


def test_options_are_hashable_and_equal_by_value() -> None:
    a = ReadOptions(charset="digits", pages="1-2", models=["cnn"])
    b = ReadOptions(charset=Charset.parse("digits"), pages=[1, 2], models="cnn")
    assert a == b and hash(a) == hash(b)
    assert len({a, b, ReadOptions()}) == 2
    assert a != a.replace(dpi=72)


def test_replace_checks_again_and_leaves_the_original() -> None:
    opts = ReadOptions(charset="digits")
    changed = opts.replace(charset="upper", dpi=150)
    assert changed.charset == Charset.parse("upper") and changed.dpi == 150
    assert opts.charset == Charset.parse("digits") and opts.dpi == ReadOptions().dpi
    with pytest.raises(OptionError, match="dpi"):
        opts.replace(dpi=-1)
    assert opts.replace() == opts
    assert opts.replace(charset=None).charset is None


def test_models_differ_only_for_model_options() -> None:
    base = ReadOptions()
    assert not base.models_differ(base.replace(charset="digits", deskew=False, dpi=72))
    assert MODEL_OPTIONS == (
        "models",
        "line_models",
        "device",
        "backend",
        "batch_size",
        "voting",
        "cascade",
    )
    changed = {
        "models": ("cnn",),
        "line_models": (),
        "device": "cpu",
        "backend": "onnx",
        "batch_size": 7,
        "voting": "soft",
        "cascade": "off",
    }
    for name in MODEL_OPTIONS:
        assert base.models_differ(base.replace(**{name: changed[name]})), name


def test_as_dict_round_trips() -> None:
    opts = ReadOptions(charset="digits", pages="2", letter_prior=0.5)
    assert ReadOptions(**opts.as_dict()) == opts
    flat = [opts.input, opts.clean, opts.model, opts.decode]  # segment and search: whole
    names = {f.name for stage in flat for f in dataclasses.fields(stage)}
    assert set(opts.as_dict()) == names | {"segment", "search"}


def test_recognizer_takes_options_and_changes() -> None:
    opts = ReadOptions(charset="digits", dpi=72)
    rec = Recognizer(opts, dpi=150)
    assert rec.options == opts.replace(dpi=150)
    assert Recognizer(opts).options is opts
    assert Recognizer().options == ReadOptions()
    with pytest.raises(OptionError, match="ReadOptions"):
        Recognizer({"dpi": 72})  # type: ignore[arg-type]


def test_line_models_accept_names_text_and_none() -> None:
    assert ReadOptions(line_models="a.b, c").line_models == ("a.b", "c")
    assert ReadOptions(line_models="none").line_models == ()
    assert ReadOptions(line_models=[]).line_models == ()
    assert ReadOptions().line_models is None  # the manifest's default line members
    assert ReadOptions().models_differ(ReadOptions(line_models="none"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("5-2", "5-2 is reversed; write 2-5"),
        ("0", "there is no page 0; pages count from 1"),
        ("0-3", "0-3 has page 0, but pages count from 1; write 1-3"),
        ("a-b", "'a-b' is not a page number or range; write page numbers and ranges such as 1-3,7"),
        ("-3", "'-3' is not a page number or range"),
        ("1,,2", "'1,,2' has an empty part between commas"),
        (" ", "no page given; write page numbers and ranges such as 1-3,7"),
    ],
)
def test_page_selection_messages_say_what_to_write(spec: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_pages(spec)
    assert str(info.value).startswith(message)


def test_page_selection_reads_numbers_and_ranges() -> None:
    assert parse_pages(" 1 - 3 , 7,2") == frozenset({1, 2, 3, 7})
    assert ReadOptions(pages="4").pages == frozenset({4})


def test_kind_is_a_decode_option_reached_by_its_flat_name() -> None:
    opts = ReadOptions(kind="printed")
    assert opts.kind == opts.decode.kind == "printed"
    assert ReadOptions().kind == "all"
    assert Recognizer(kind="handwritten").options.decode.kind == "handwritten"
    assert opts.replace(kind="all").kind == "all"
