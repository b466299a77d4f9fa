"""Deduplication rules on real records: what is one work, what is not."""

from __future__ import annotations

from federation.catalog.dedup import MatchData, authors_compatible, confirm, titles_close
from federation.catalog.folding import fold, latin

from .conftest import DEMO, RSL, one, read, variant


def match(record, source="a"):
    return MatchData.of(record, source)


def test_the_same_book_in_marc21_and_rusmarc_is_one_work():
    for marc21, rusmarc in [
        ("01002988236_marc21.mrc", "01002988236_rusmarc.iso"),
        ("01003120729.mrc", "01003120729.iso"),
        ("01007496813.mrc", "01007496813.iso"),
    ]:
        a, b = match(one(RSL / marc21), "rgb"), match(one(RSL / rusmarc), "rgb-rusmarc")
        assert a.keys() and set(a.keys()) & set(b.keys()), marc21
        assert confirm(a, b)[0], (marc21, confirm(a, b))


def test_a_shared_isbn_confirms_before_anything_else():
    a = match(one(RSL / "01003120729.mrc"))
    b = match(variant(one(RSL / "01003120729.iso"), title="Совсем другое"))
    assert confirm(a, b) == (True, "shared ISBN")


def test_same_title_different_year_is_another_work():
    # RSL's "История XVIII столетия" (1804, translators) and NLR's record of
    # the same title (1805, another author) are different works.
    rsl = match(one(RSL / "01002988236_marc21.mrc"))
    nlr = match(one(RSL / "NLR005177748.mrc"))
    assert not confirm(rsl, nlr)[0]


def test_another_edition_does_not_merge():
    book = one(RSL / "01003120729.mrc")
    later = variant(book, isbns=[], year=book.year + 3)
    thicker = variant(book, isbns=[], pages=book.pages + 40)
    assert confirm(match(variant(book, isbns=[])), match(later)) == (False, "years differ")
    assert confirm(match(variant(book, isbns=[])), match(thicker)) == (
        False,
        "page counts differ by more than 10",
    )


def test_same_title_other_author_does_not_merge():
    book = one(RSL / "01003120729.mrc")
    other = variant(book, isbns=[], authors=["Иванов, Иван Иванович"])
    assert confirm(match(variant(book, isbns=[])), match(other)) == (
        False,
        "authors incompatible",
    )


def test_formats_must_agree():
    book = one(RSL / "01003120729.mrc")
    recording = variant(book, isbns=[], format="recording")
    assert confirm(match(variant(book, isbns=[])), match(recording)) == (False, "format differs")


def test_dublin_core_cannot_contradict_a_format():
    book = one(RSL / "01003120729.mrc")
    dc = variant(book, schema="dc", format="other", isbns=[], pages=None)
    assert confirm(match(book), match(dc))[0]


def test_distinct_real_records_stay_apart():
    records = read(DEMO / "loc_general.xml")[:40]
    data = [match(r) for r in records]
    for i, a in enumerate(data):
        for b in data[i + 1 :]:
            shared = set(a.keys()) & set(b.keys())
            if shared:
                assert not confirm(a, b)[0], (a.title, b.title)


def test_folding_keeps_short_i_and_merges_yo():
    assert fold("ЁЛКА Моё") == "елка мое"
    assert fold("мой") != fold("мои")
    assert fold("Crème Brûlée Ångström") == "creme brulee angstrom"


def test_latin_form_romanizes_cyrillic_the_ala_lc_way():
    assert latin("Толстой, Лев Николаевич") == "tolstoi lev nikolaevich"
    assert latin("История XVIII столетия") == "istoriia xviii stoletiia"
    assert latin("Tolstoĭ, Lev") == "tolstoi lev"


def test_author_compatibility():
    assert authors_compatible("ozerov petr petrovich", "ozerov p p")
    assert authors_compatible(latin("Толстой, Лев"), latin("Tolstoy, Lev"))
    assert authors_compatible("tolstoi lev", "lev tolstoi")
    assert not authors_compatible("ozerov petr", "ivanov petr")
    assert not authors_compatible("ozerov petr", "ozerov ivan")


def test_titles_close_tolerates_small_differences_only():
    assert titles_close("istoriia xviii stoletiia", "istoriia xviii stoletija")
    assert not titles_close("istoriia xviii stoletiia", "istoriia xix stoletiia")
