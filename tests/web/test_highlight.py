from web.ui.highlight import highlight


class TestHighlight:
    def test_marks_the_original_turkish_letters(self) -> None:
        assert highlight("Işık ve ışıklar", "ISIK") == "<mark>Işık</mark> ve <mark>ışıklar</mark>"

    def test_dotted_and_dotless_i_both_ways(self) -> None:
        assert highlight("İADE ve ılık", "iade ilik") == "<mark>İADE</mark> ve <mark>ılık</mark>"

    def test_s_and_g_with_marks(self) -> None:
        assert highlight("Ağaç şişe", "agac sise") == "<mark>Ağaç</mark> <mark>şişe</mark>"

    def test_hostile_text_is_escaped_and_only_mark_is_markup(self) -> None:
        out = highlight('<script>alert("iade")</script> <img src=x onerror=alert(1)> iade', "iade script")
        assert "<script" not in out and "<img" not in out
        assert out == ('&lt;<mark>script</mark>&gt;alert(&#34;<mark>iade</mark>&#34;)&lt;/<mark>script</mark>&gt; '
                       '&lt;img src=x onerror=alert(1)&gt; <mark>iade</mark>')

    def test_markup_in_the_query_is_just_words(self) -> None:
        assert highlight("a <b> tag", "<b>") == "a &lt;<mark>b</mark>&gt; tag"

    def test_no_match_is_the_escaped_text(self) -> None:
        assert highlight("5 < 6 & ok", "kargo") == "5 &lt; 6 &amp; ok"

    def test_an_excerpt_keeps_the_match_and_its_mark(self) -> None:
        out = highlight("x " * 200 + "Kargom gelmedi", "kargo", width=60)
        assert out.startswith("…") and "<mark>Kargom</mark> gelmedi" in out
