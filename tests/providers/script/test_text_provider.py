"""Script provider `text` (the user's own narration, any language), and the `local` provider refusing languages
its 135M model cannot write."""

from __future__ import annotations

import pickle

import pytest

from pipeline.errors import NewsreelError
from pipeline.plugins import provider_class
from pipeline.providers.script.local import LocalScript
from pipeline.providers.script.text import TextScript, narration_sentences
from pipeline.stages.script import Script

ZH_HEADLINE = "北京宣布新的环保政策"
ZH_TEXT = "北京市政府今天宣布了一项新的环保政策。\n根据新规定，\n到二零三零年，城市的空气污染将减少一半！\n\n市民对此反应积极。这项政策会成功吗？专家们表示乐观。"
AR_HEADLINE = "الحكومة تعلن خطة جديدة للطاقة"
AR_TEXT = "أعلنت الحكومة اليوم خطة جديدة للطاقة الشمسية. هل ستنجح هذه الخطة؟ يقول الخبراء إنها خطوة مهمة.\n"


def no_progress(fraction: float, message: str) -> None:
    assert 0.0 <= fraction <= 1.0


def write(provider: TextScript, tmp_path, headline: str) -> Script:
    return provider.run(headline=headline, workdir=tmp_path, progress=no_progress)


# --------------------------------------------------------------------------------------------------------------------
# Sentences


def test_registered_as_the_script_text_entry_point():
    assert provider_class("script", "text") is TextScript


def test_chinese_file_becomes_sentences_at_the_full_stops(tmp_path):
    story = tmp_path / "zh.txt"
    story.write_text(ZH_TEXT, encoding="utf-8")
    script = write(TextScript({"file": str(story), "language": "zh"}), tmp_path, ZH_HEADLINE)
    assert script.sentences == [
        "北京市政府今天宣布了一项新的环保政策。",
        "根据新规定，到二零三零年，城市的空气污染将减少一半！",  # a wrapped line joined without a space
        "市民对此反应积极。",
        "这项政策会成功吗？",
        "专家们表示乐观。",
    ]
    assert script.headline == script.title == ZH_HEADLINE
    assert script.language == "zh"
    assert ZH_HEADLINE in script.image_prompt and "no text" in script.image_prompt
    assert [s.sentences for s in script.scenes] == [[0, 1, 2, 3, 4]]
    assert script.words_target == sum("\u4e00" <= ch <= "\u9fff" for ch in script.text)  # a word per character
    assert Script.from_json(script.to_json()) == script  # the stage contract round-trips


def test_arabic_text_splits_at_the_arabic_question_mark(tmp_path):
    script = write(TextScript({"text": AR_TEXT, "language": "ar"}), tmp_path, AR_HEADLINE)
    assert script.sentences == [
        "أعلنت الحكومة اليوم خطة جديدة للطاقة الشمسية.",
        "هل ستنجح هذه الخطة؟",
        "يقول الخبراء إنها خطوة مهمة.",
    ]
    assert script.title == AR_HEADLINE and script.language == "ar"


def test_paragraphs_end_sentences_and_the_words_are_kept_as_written():
    text = "Breaking news\n\nThe rover found a lake bed. Dr. Chu said\nit is 3.5 billion years old.\r\n\r\nMore soon"
    assert narration_sentences(text) == [
        "Breaking news",
        "The rover found a lake bed.",
        "Dr. Chu said it is 3.5 billion years old.",
        "More soon",
    ]
    assert narration_sentences("\ufeffOne.\tTwo!") == ["One.", "Two!"]


def test_scenes_cut_the_narration_into_runs(tmp_path):
    script = write(TextScript({"text": ZH_TEXT, "scenes": 2, "language": "zh"}), tmp_path, ZH_HEADLINE)
    runs = [s.sentences for s in script.scenes]
    assert len(runs) == 2 and [i for run in runs for i in run] == list(range(len(script.sentences)))


def test_provider_pickles_and_checks_cheaply(tmp_path):
    provider = TextScript({"text": "One. Two."})
    provider.check()
    assert pickle.loads(pickle.dumps(provider)).params == provider.params


# --------------------------------------------------------------------------------------------------------------------
# Cache key


def test_cache_key_follows_the_file_content_not_its_path(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "story.txt").write_text(ZH_TEXT, encoding="utf-8")
    (b / "other-name.txt").write_text(ZH_TEXT, encoding="utf-8")
    key_a = TextScript({"file": str(a / "story.txt")}).key_params()
    key_b = TextScript({"file": str(b / "other-name.txt")}).key_params()
    assert key_a == key_b
    assert str(a) not in repr(key_a)
    (a / "story.txt").write_text(ZH_TEXT + "再见。", encoding="utf-8")
    assert TextScript({"file": str(a / "story.txt")}).key_params() != key_b
    # Inline text is in the key as itself.
    assert TextScript({"text": "One."}).key_params() != TextScript({"text": "Two."}).key_params()


# --------------------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("params", "needle", "hint"),
    [
        ({"text": "One.", "file": "story.txt"}, "either text or file, not both", "script.file="),
        ({"text": ""}, "has no words", "write the narration"),
        ({"text": "  \n\n ... 123. "}, "has no words", "write the narration"),
    ],
)
def test_bad_text_parameters_name_the_problem(params, needle, hint):
    with pytest.raises(NewsreelError) as err:
        TextScript(params).check()
    assert needle in err.value.message and hint in err.value.hint
    assert "\n" not in err.value.one_line()


def test_no_narration_is_refused_when_the_job_has_no_article_either(tmp_path):
    provider = TextScript({})
    provider.check()  # pre-flight cannot know: a job with an article reads the article's lead
    with pytest.raises(NewsreelError) as err:
        provider.run(headline="Storm hits coast", workdir=tmp_path, progress=lambda f, m="": None)
    assert "needs your narration" in err.value.message and "script.file=" in err.value.hint
    assert "--article FILE or --url URL" in err.value.hint


def test_bad_files_name_the_problem(tmp_path):
    cases = []
    missing = tmp_path / "missing.txt"
    cases.append((missing, "does not exist"))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Café fermé.".encode("latin-1"))
    cases.append((latin1, "is not UTF-8"))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    cases.append((empty, "has no words"))
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    cases.append((folder, "is not a file"))
    unreadable = tmp_path / "secret.txt"
    unreadable.write_text("Hidden.")
    unreadable.chmod(0)
    if _is_unreadable(unreadable):
        cases.append((unreadable, "cannot read"))
    for path, needle in cases:
        provider = TextScript({"file": str(path)})
        for call in (provider.check, provider.key_params):
            if needle == "has no words" and call == provider.key_params:
                continue  # an empty file has a content hash; check() refuses it before any key is made
            with pytest.raises(NewsreelError) as err:
                call()
            assert needle in err.value.message and str(path.name) in err.value.message, err.value.message
        with pytest.raises(NewsreelError):
            write(provider, tmp_path, "Headline")


def _is_unreadable(path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return True
    return False  # running as root: every file is readable


def test_too_long_narration_is_refused():
    with pytest.raises(NewsreelError) as err:
        TextScript({"text": "Word " * 3001 + "."}).check()
    assert "3001 words" in err.value.message and "limit is 3000" in err.value.message


def test_unknown_parameter_is_refused():
    with pytest.raises(NewsreelError) as err:
        TextScript({"path": "x.txt"})
    assert "bad parameter path" in err.value.message and "file" in err.value.hint


# --------------------------------------------------------------------------------------------------------------------
# The local model refuses languages it cannot write


@pytest.mark.parametrize("lang", ["zh", "ar", "de", "zh-CN"])
def test_local_refuses_other_languages_and_says_what_to_use(lang, tmp_path):
    with pytest.raises(NewsreelError) as err:
        LocalScript({"language": lang}, models_dir=tmp_path).check()
    assert "script provider 'local' (SmolLM2-135M) writes English only" in err.value.message
    assert f"--lang {lang} " in err.value.hint
    assert "--provider script=openai" in err.value.hint
    assert "--provider script=text --set script.file=story.txt" in err.value.hint


@pytest.mark.parametrize("lang", ["en", "en-GB", "EN_us"])
def test_local_accepts_english(lang, tmp_path):
    # Whatever else check() finds (a missing package), it is not the language.
    try:
        LocalScript({"language": lang}, models_dir=tmp_path).check()
    except NewsreelError as err:
        assert "English only" not in err.message
