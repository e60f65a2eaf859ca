import pytest

from inbox.text import excerpt, matches, reply_subject, sanitize_html, terms


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


class TestSanitizeHtml:
    def test_scripts_handlers_and_javascript_links_are_gone_and_links_open_elsewhere(self) -> None:
        clean = sanitize_html('<p onclick="x()">Merhaba<script>alert(1)</script> <a href="javascript:alert(2)">a</a>'
                              ' <a href="https://kargo.example.com/1">takip</a></p>')
        assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
        assert '<a href="https://kargo.example.com/1" target="_blank" rel="noopener noreferrer nofollow">' in clean

    def test_remote_images_are_dropped_and_images_inside_the_mail_kept(self) -> None:
        clean = sanitize_html('<img src="https://track.example.org/open.gif?u=1"><img src="cid:kutu@example.net">')
        assert "track.example.org" not in clean and '<img src="cid:kutu@example.net">' in clean

    def test_layout_styles_stay_and_ones_that_could_cover_the_page_go(self) -> None:
        clean = sanitize_html('<span style="color: red; position: fixed; background: url(https://x/)">a</span>')
        assert clean == '<span style="color:red">a</span>'


class TestReplySubject:
    @pytest.mark.parametrize(("subject", "reply"), [
        ("Siparişim hâlâ gelmedi (#1002)", "Re: Siparişim hâlâ gelmedi (#1002)"),
        ("Re: RE: Where is my order?", "Re: Where is my order?"),
        ("YNT: Kargo", "Re: Kargo"),
        ("AW: Re[2]: Rücksendung", "Re: Rücksendung"),
        ("Reklam kampanyası", "Re: Reklam kampanyası"),
        ("Fwd: fatura", "Re: Fwd: fatura"),
    ])
    def test_one_re_never_a_stack_of_them(self, subject: str, reply: str) -> None:
        assert reply_subject(subject) == reply
