import pytest

from inbox.text import excerpt, matches, terms


def _marked(text: str, q: str) -> list[str]:
    return [text[start:end] for start, end in matches(text, terms(q))]


class TestMatches:
    @pytest.mark.parametrize("q", ["ISIK", "isik", "ışık", "Işık", "IŞIK"])
    def test_every_way_of_typing_isik_finds_the_original_letters(self, q: str) -> None:
        assert _marked("Işık yanmıyor", q) == ["Işık"]

    def test_a_dotted_capital_i_is_found_by_a_plain_i(self) -> None:
        assert _marked("İADE talebi", "iade") == ["İADE"]

    @pytest.mark.parametrize(("text", "q", "found"), [
        ("Şule'nin siparişi", "sule siparis", ["Şule", "siparişi"]),
        ("Ağrı'dan GÖNDERİLDİ", "agri gonderildi", ["Ağrı", "GÖNDERİLDİ"]),
        ("ıslak kutu", "ISLAK", ["ıslak"]),
    ])
    def test_turkish_letters_in_text_and_query_meet(self, text: str, q: str, found: list[str]) -> None:
        assert _marked(text, q) == found

    def test_a_prefix_marks_the_whole_word_as_search_matched_it(self) -> None:
        assert _marked("Kargom nerede, kargo firması?", "karg") == ["Kargom", "kargo"]

    def test_only_word_starts_match_as_in_the_index(self) -> None:
        assert _marked("Türkiye ve iade", "iye") == []

    def test_a_decomposed_dot_stays_with_its_letter(self) -> None:
        decomposed = "I\u0307stanbul'a"
        assert _marked(decomposed, "istanbul") == ["I\u0307stanbul"]

    def test_letters_that_fold_to_two_keep_their_place(self) -> None:
        assert _marked("Große Straße, büyük", "strasse buyuk") == ["Straße", "büyük"]

    def test_no_words_no_matches(self) -> None:
        assert matches("anything", terms("  ** ")) == []


class TestExcerpt:
    def test_a_short_text_is_kept_whole(self) -> None:
        text = "İade istiyorum"
        assert excerpt(text, matches(text, terms("iade"))) == (text, [(0, 4)])

    def test_a_long_text_is_cut_around_the_first_match_on_word_boundaries(self) -> None:
        text = " ".join(["önce"] * 80) + " Işık bozuk " + " ".join(["sonra"] * 80)
        cut, spans = excerpt(text, matches(text, terms("isik")), width=80)
        assert cut.startswith("…önce") and cut.endswith("…")
        assert len(cut) <= 82 and [cut[a:b] for a, b in spans] == ["Işık"]
        assert "önc…" not in cut and " sonr…" not in cut.replace("sonra…", "")

    def test_whitespace_collapses_to_one_line_and_spans_follow(self) -> None:
        text = "  Merhaba\n\n   İade\tolur mu  "
        cut, spans = excerpt(text, matches(text, terms("iade olur")))
        assert cut == "Merhaba İade olur mu"
        assert [cut[a:b] for a, b in spans] == ["İade", "olur"]
