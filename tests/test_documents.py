"""Loading real seed policies and odd files: metadata, cleaning, decoding, offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

import webpages
from app import documents
from app.errors import PolicyQAError
from app.evaluation import verbatim

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def load(name: str):
    return documents.load(CORPUS / name)


def load_written(path: Path, content: str):
    """Write `content` to `path` and load it: the policy, its blocks and their texts. Every block's text is the
    source's own words between its offsets."""
    path.write_text(content, encoding="utf-8")
    policy, blocks = documents.load(path)
    for block in blocks:
        start, end = block.text.source_span()
        assert verbatim(block.text.text, policy.source_text[start:end]), block.text.text[:60]
    return policy, blocks, [b.text.text for b in blocks]


def test_archive_banner_gives_source_url_and_date():
    policy, _ = load("laneige.md")
    assert policy.source_url == "http://us.laneige.com/privacy-policy"
    assert policy.archived == "2017-06-25"
    assert "extracted and transformed" not in policy.text


def test_company_is_spelled_as_the_document_spells_it():
    assert load("leje.md")[0].company == "LEJE"
    assert load("dr-esthetique.md")[0].title == "Dr.esthetique Privacy Policy"


def test_contact_comes_from_mailto_links_and_officer_lines():
    assert load("clozette.md")[0].contact == ["info@clozette.co"]
    contact = load("dr-esthetique.md")[0].contact
    assert "02-521-2657" in contact and any("Bo Kyoung Yeon" in c for c in contact)


def test_navigation_chrome_and_table_debris_are_dropped():
    text = load("dr-esthetique.md")[0].text
    for chrome in ("본문 바로가기", "맨 위로 가기", "WORLD SHIPPING", "PLEASE SELECT"):
        assert chrome not in text
    assert text.rstrip().endswith("Date of Enforcement: December 1, 2011")
    clozette = load("clozette.md")[0].text
    assert "Â" not in clozette and "|" not in clozette


def test_table_copy_of_a_later_list_is_kept_once():
    text = load("clozette.md")[0].text
    assert text.count("The number of unique visitors to the Site;") == 1


def test_article_headings_inside_one_paragraph_become_headings():
    _, blocks = load("dr-esthetique.md")
    headings = [b.text.text for b in blocks if b.kind == "heading"]
    assert headings[0] == "Article 1 Consent to Collection of Customer Information"
    assert len(headings) == 11 and headings[-1].startswith("Article 11 Notification Duty")


def test_every_block_maps_back_to_its_source_words():
    for path in documents.corpus_files(CORPUS):
        policy, blocks = documents.load(path)
        for block in blocks:
            start, end = block.text.source_span()
            assert verbatim(block.text.text, policy.source_text[start:end]), (path.name, block.text.text[:60])


def test_latin1_and_euc_kr_files_are_decoded(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Politique de confidentialité: nous protégeons vos données.".encode("latin-1"))
    (tmp_path / "korean.txt").write_bytes(("개인정보처리방침 " * 20 + "We protect your personal information carefully.").encode("euc-kr"))
    assert "confidentialité" in documents.load(tmp_path / "latin.txt")[0].text
    assert "개인정보처리방침" in documents.load(tmp_path / "korean.txt")[0].text


def test_html_policy_keeps_offsets_into_the_html(tmp_path):
    html = ("<html><head><title>T</title><script>var x = 1;</script></head><body><nav>Home Menu</nav>"
            "<h1>Privacy Policy</h1><h2>Cookies</h2><p>We use cookies &amp; similar tools to remember you.</p>"
            "<ul><li>Analytics cookies measure visits to our pages.</li></ul></body></html>")
    (tmp_path / "acme.html").write_text(html, encoding="utf-8")
    policy, blocks = documents.load(tmp_path / "acme.html")
    assert "var x" not in policy.text and "Home Menu" not in policy.text
    paragraph = next(b for b in blocks if b.text.text.startswith("We use cookies"))
    start, end = paragraph.text.source_span()
    assert html[start:end] == "We use cookies &amp; similar tools to remember you."


@pytest.mark.parametrize("site", webpages.SITES)
def test_a_web_pages_policy_is_read_whole_and_its_chrome_left_out(tmp_path, site):
    """Each seed policy as a full web page of a site (menu, cookie banner, breadcrumbs, sidebar, share buttons,
    newsletter form, footer): every sentence of the policy is read, each block is the page's own words at its
    offsets, and the chrome is left out: all of it where the page marks its landmarks, nearly all elsewhere (the
    main-content extraction keeps a newsletter line or a cookie banner it does not recognise: see docs/formats.md)."""
    left = []
    for path in documents.corpus_files(CORPUS):
        policy, _, _ = load_written(tmp_path / f"{path.stem}.html", webpages.page(path.read_text(), site, path.stem))
        found = webpages.words(policy.text)
        assert [s for s in webpages.policy_sentences(path) if webpages.words(s) not in found] == [], path.name
        left += [c for c in webpages.CHROME if webpages.words(c) in found]
        assert policy.source_url == f"https://acme.example/legal/{path.stem}"
    assert not left if site == "landmarks" else len(left) <= 2 * len(documents.corpus_files(CORPUS)), left


def test_html_what_the_page_hides_or_marks_as_the_sites_is_left_out(tmp_path):
    """Hidden elements, and landmarks of the site rather than the page (a banner, navigation, the site's header
    and footer, by role or as HTML implies), never reach the policy; an article's own header does."""
    _, body = webpages.policy_body((CORPUS / "laneige.md").read_text())
    policy, blocks, texts = load_written(tmp_path / "acme.html",
        "<body><div role=\"banner\"><p>Acme Store: shop our new spring collection today and save on shoes.</p></div>"
        "<header><p>Free shipping on every order over fifty dollars this week only, in every country.</p></header>"
        "<div id=\"cookie-banner\" aria-hidden=\"true\"><p>We use cookies to improve your experience. Accept all</p>"
        "</div><div hidden><p>Sign up for our newsletter and get ten percent off your first order.</p></div>"
        "<div style=\"display: none\"><p>Chat with our friendly support team, we answer within minutes.</p></div>"
        f"<main><article><header><h1>Laneige Privacy Policy</h1><p>Last updated: March 1, 2024</p></header>{body}"
        "</article></main><div role=\"contentinfo\"><p>Copyright Acme Inc. All rights reserved worldwide.</p></div>"
        "<footer><p>Acme Inc., 1 Market Street, San Francisco, serving customers since 1999.</p></footer></body>")
    for chrome in ("Acme Store", "Free shipping", "improve your experience", "newsletter", "support team", "Copyright",
                   "Market Street"):
        assert chrome not in policy.text
    assert texts[:2] == ["Laneige Privacy Policy", "Last updated: March 1, 2024"] and policy.version == "2024-03-01"
    assert texts[-1].startswith("Any personal information that we collect is encrypted")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
])
def test_unusable_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    with pytest.raises(PolicyQAError, match=message):
        documents.load(path)


def test_kramdown_attribute_lists_and_liquid_tags_stay_out_of_titles_sections_and_text(tmp_path):
    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Statement {: #top .title }\n\n{% include toc.html %}\n\n"
        "This statement explains how Acme collects, uses and shares your personal information.\n{: .intro}\n\n"
        "## Sharing of Information {: #sharing }\n\n"
        "Acme does not share or sell your personal information {: .note } to "
        "[advertisers](https://example.com/ads){: target=\"_blank\"}; a {placeholder} in braces is text.\n{: .lead}\n\n"
        "## Cookies {#cookies .section}\n\n* We use cookies {:.b} for sign-in, and keep them for a year.\n")
    assert texts[0] == "Acme Privacy Statement" and texts[2:4] == ["Sharing of Information",
                         "Acme does not share or sell your personal information to advertisers; a {placeholder} in braces is text."]
    assert "Cookies" in texts and "We use cookies for sign-in, and keep them for a year." in texts
    assert "{" not in policy.title and "{" not in policy.text.replace("{placeholder}", "") and "%" not in policy.text


def test_each_row_of_a_markdown_table_is_a_block_of_its_own_under_the_tables_heading(tmp_path):
    """The header row names the columns: it is no heading, so the rows and the sections after them keep theirs. A
    row is one clause, its cells on lines of their own (no "|" marks), each labelled by its column in what search
    reads."""
    from app import clauses, store

    policy, blocks, texts = load_written(tmp_path / "cookies.md",
        "# Cookies\n\nThis notice explains the cookies Acme sets and how you can control them.\n\n## Cookies we set\n\n"
        "We use the cookies below to keep you signed in and to remember your settings on our site.\n\n"
        "Provider | Cookie | Description | Expiration\n---------|--------|-------------|-----------\n"
        "Acme | `session` | Keeps you signed in. | Session\n| Acme | `theme` | Remembers your colour theme. | One year |\n"
        "\nThe expiration dates apply on a rolling basis.\n\n### Your choices\n\n"
        "You can turn off cookies that are not essential in your browser's settings at any time.\n")
    rows = [b.text.text for b in blocks if b.kind == "row"]
    assert rows == ["Acme\nsession\nKeeps you signed in.\nSession", "Acme\ntheme\nRemembers your colour theme.\nOne year"]
    assert [b.text.text for b in blocks if b.kind == "heading"] == ["Cookies", "Cookies we set", "Your choices"]
    split = clauses.split(policy, blocks)
    section = {c.text: c.section for c in split}
    of = lambda words: next(s for text, s in section.items() if words in text)  # noqa: E731
    assert of("Remembers your colour theme.") == of("rolling basis") == "Cookies we set"
    assert of("You can turn off") == "Cookies we set › Your choices"
    row = next(c for c in split if c.text == rows[0])  # one row, one clause: not merged with its neighbours
    assert store.clause_text_for_search(row) == (
        "Cookies we set. Provider: Acme; Cookie: session; Description: Keeps you signed in.; Expiration: Session")
    assert store.sentence_texts_for_search(row)[2] == "Cookies we set. Description: Keeps you signed in."


def test_each_row_of_an_html_table_is_one_block_and_its_header_row_is_dropped(tmp_path):
    policy, blocks, texts = load_written(tmp_path / "cookies.html",
        "<h1>Cookies</h1><p>This notice explains the cookies Acme sets and how you can control them.</p>"
        "<h2>Cookies we set</h2><p>We use the cookies below to keep you signed in and to remember your settings.</p>"
        "<table><thead><tr><th>Provider</th><th>Cookie</th><th>Description</th><th>Expiration</th></tr></thead>"
        "<tr><td>Acme</td><td>session</td><td>Keeps you signed in.</td><td>Session</td></tr>"
        "<tr><th>Acme</th><td>theme</td><td>Remembers your colour theme.</td><td>One year</td></tr></table>"
        "<h3>Your choices</h3><p>You can turn off cookies that are not essential in your browser's settings.</p>")
    assert [(b.text.text, b.labels) for b in blocks if b.kind == "row"] == [
        ("Acme\nsession\nKeeps you signed in.\nSession", ("Provider", "Cookie", "Description", "Expiration")),
        ("Acme\ntheme\nRemembers your colour theme.\nOne year", ("Provider", "Cookie", "Description", "Expiration"))]
    assert "Provider" not in " ".join(texts) and "Your choices" in texts
    policy, blocks, texts = load_written(tmp_path / "plain.html", webpages.page(
        "# Cookies\n\nThis notice explains the cookies Acme sets and how you can control them in your browser.\n\n",
        "blog").replace("</div><footer", "<table><tr><td>session</td><td>Keeps you signed in.</td></tr><tr><td>theme"
                        "</td><td>Remembers your colour theme.</td></tr></table></div><footer"))
    assert [(b.text.text, b.labels) for b in blocks if b.kind == "row"] == [  # a table that names no column
        ("session\nKeeps you signed in.", ("", "")), ("theme\nRemembers your colour theme.", ("", ""))]


def test_markdowns_other_markup_stays_out_and_its_words_stay_in(tmp_path):
    """Setext headings, inline HTML (anchors, <br>, <details>, comments), blockquote marks, reference links and their
    definitions, footnote marks: markup, not the policy's words and not headings of their own."""
    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "Acme Privacy Statement\n======================\n\nLast updated: March 2024\n\n<a id=\"intro\"></a>\n"
        "Your privacy is important to us. This statement explains the personal data Acme processes and why.[^1]\n\n"
        "<!-- markdownlint-disable MD001 -->\nPersonal data we collect\n------------------------\n\n"
        "Acme collects data from you, through our interactions with you and our products.<br>\n"
        "You provide some of this data directly, and we collect some of it automatically.\n\n"
        "> If you are a child, please read [our children's section][kids] with a parent.\n\n"
        "<details><summary>Learn more about cookies</summary>\nWe use cookies to remember your settings.\n</details>\n\n"
        "[kids]: https://acme.example/privacy#kids\n[^1]: This statement applies to every website and app Acme runs.\n")
    assert texts == [
        "Acme Privacy Statement", "Last updated: March 2024",
        "Your privacy is important to us. This statement explains the personal data Acme processes and why.",
        "Personal data we collect",
        "Acme collects data from you, through our interactions with you and our products. "
        "You provide some of this data directly, and we collect some of it automatically.",
        "If you are a child, please read our children's section with a parent.",
        "Learn more about cookies We use cookies to remember your settings.",
        "This statement applies to every website and app Acme runs."]
    assert [(b.kind, b.level) for b in blocks if b.kind == "heading"] == [("heading", 1), ("heading", 2)]
    assert policy.version == "2024-03-01"


def test_a_numbered_line_or_one_that_runs_on_heads_no_section(tmp_path):
    """A short line without a full stop reads as a heading, but not "(2) ...", a list item, nor one ending in "or"."""
    from app import clauses

    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nWe process information about you only on one of the following legal grounds:\n\n"
        "(1) The use is necessary to fulfil our contract with you; or\n\n"
        "(2) The use is necessary for compliance with a legal obligation; or\n\n"
        "You may ask us to delete your data where we no longer need it; or\n\n"
        "where you withdraw the consent you gave us for a use that needs it.\n\n#### Changes\n\n"
        "We will post any change to this policy on this page before it takes effect.\n")
    assert [b.text.text for b in blocks if b.kind == "heading"] == ["Acme Privacy Policy", "Changes"]
    assert [b.kind for b in blocks if b.text.text.startswith("(")] == ["item", "item"]
    assert clauses.split(policy, blocks)[-1].section == "Changes"


def test_a_note_is_an_aside_not_a_section(tmp_path):
    """GitHub's alert marks ("> [!NOTE]") are markup, and a bold "Note:" label heads no section: the clauses after
    it stay in their own section."""
    from app import clauses

    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nThis policy explains how Acme uses cookies on its websites and apps.\n\n"
        "## Cookies\n\nWe use cookies to keep you signed in and to remember your settings.\n\n> [!NOTE]\n> Blocking every cookie in your browser also signs you out of the site.\n\n"
        "**Note:** Some cookies are set by our payment provider when you check out.\n\n"
        "You can delete every cookie we set from your browser's settings at any time.\n")
    assert "[!NOTE]" not in policy.text and [b.text.text for b in blocks if b.kind == "heading"] == [
        "Acme Privacy Policy", "Cookies"]
    assert {c.section for c in clauses.split(policy, blocks)} == {"", "Cookies"}


def test_a_kramdown_definition_heads_its_definition(tmp_path):
    """"Term" then ": what it means": the term labels the definition, as a bold "Label:" does, and the marks go."""
    from app import clauses

    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nThis policy explains the kinds of data Acme keeps about the people who use its apps.\n\n"
        "## Data we collect\n\nAccount data\n: Your name, email address and password, which you give us when you sign up."
        "\n\nUsage data\n: The pages you visit and the features you use, which we log to improve the apps.\n"
        ": We keep usage data for thirteen months and then delete it for good.\n")
    section = {c.text: c.section for c in clauses.split(policy, blocks)}
    of = lambda words: next(s for text, s in section.items() if words in text)  # noqa: E731
    assert of("thirteen months") == of("The pages you visit") == "Data we collect › Usage data"
    assert of("Your name, email address") == "Data we collect › Account data"
    assert ":" not in "".join(t for t in texts if t.startswith(("Your", "The", "We keep")))


def test_front_matter_is_metadata_and_its_title_is_the_documents(tmp_path):
    """The YAML block a Jekyll or GitHub Docs page opens with is not the policy's words; its title heads the document,
    so the page's own first heading stays a section."""
    from app import clauses

    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "---\ntitle: 'Acme Privacy Statement'\ndescription: How Acme handles your data, in short.\nredirect_from:\n"
        "  - /privacy\n---\n\n# Privacy statement\n\n*Last updated: April 20, 2023*\n\n"
        "We collect the _name and email address_ you give us when you sign up, and *nothing* more but a `_device_id`.\n")
    assert texts == ["Acme Privacy Statement", "Privacy statement", "Last updated: April 20, 2023",
                     "We collect the name and email address you give us when you sign up, and nothing more but a _device_id."]
    assert [(c.section, c.text[:12]) for c in clauses.split(policy, blocks)] == [
        ("Privacy statement", "Last updated"), ("Privacy statement", "We collect t")]
    assert "description" not in policy.text and "redirect_from" not in policy.text


def test_an_html_table_inside_markdown_is_read_row_by_row(tmp_path):
    policy, blocks, texts = load_written(tmp_path / "cookies.md",
        "# Acme Cookie Policy\n\nThis policy explains which cookies Acme sets on its websites and what each one does.\n\n"
        "## Cookies we set\n\n<table>\n  <tr><th>Cookie</th><th>Purpose</th><th>Expires</th></tr>\n"
        "  <tr><td>session</td><td>Keeps you signed in.</td><td>Session</td></tr>\n"
        "  <tr><td>_ga</td><td>Google Analytics: counts visits to our pages.</td><td>2 years</td></tr>\n</table>\n\n"
        "## Your choices\n\nYou can block cookies in your browser's settings, but some pages will not work without them.\n")
    assert [(b.text.text, b.labels) for b in blocks if b.kind == "row"] == [
        ("session\nKeeps you signed in.\nSession", ("Cookie", "Purpose", "Expires")),
        ("_ga\nGoogle Analytics: counts visits to our pages.\n2 years", ("Cookie", "Purpose", "Expires"))]
    assert "Cookie Purpose" not in policy.text and texts[-2:] == [
        "Your choices", "You can block cookies in your browser's settings, but some pages will not work without them."]


def test_a_line_dating_the_policy_is_kept_where_chrome_is_dropped(tmp_path):
    """Scraps before the first and after the last sentence are chrome, except the line that dates the policy:
    it answers "when did this policy last change?"."""
    from app import clauses

    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "Home\n\nEffective date: February 1, 2024\n\n"
        "This statement explains how Acme collects, uses and shares your personal information.\n\n"
        "We may change this statement and will post the new version on this page.\n\n"
        "Last updated: March 3rd, 2024\n\nBack to top\n")
    assert texts[0] == "Effective date: February 1, 2024" and texts[-1] == "Last updated: March 3rd, 2024"
    assert "Home" not in texts and "Back to top" not in texts
    quoted = [c.text for c in clauses.split(policy, blocks)]
    assert any("Effective date: February 1, 2024" in text for text in quoted)
    assert any("Last updated: March 3rd, 2024" in text for text in quoted)


def test_a_table_of_contents_is_navigation_not_the_policys_words(tmp_path):
    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Privacy policy\n\nThis policy is split into sections. Links to each of those sections are as follows:\n\n"
        "* [What we collect and why](#what-we-collect-and-why)\n* [Data retention](#data-retention)\n\n"
        "## What we collect and why\n\nWe collect your email address so that we can send you receipts.\n\n"
        "* [Our receipts](https://example.com/receipts)\n\n"
        "## Data retention\n\nWe keep receipts for seven years, as [the tax law](https://example.com/tax) requires.\n")
    assert texts.count("What we collect and why") == texts.count("Data retention") == 1  # the headings, not the contents
    assert "Our receipts" in texts and "as the tax law requires" in policy.text  # links elsewhere are kept as text


def test_an_html_table_of_contents_is_dropped_and_other_links_kept(tmp_path):
    path = tmp_path / "acme.html"
    path.write_text(webpages.page(
        "# Privacy policy\n\nThis policy is split into sections, listed here for you.\n\n"
        "* [What we collect](#collect)\n* [Data retention](#keep)\n\n"
        "## What we collect\n\nWe collect your email address so that we can send receipts for every order you place.\n\n"
        "* [Our receipts](https://example.com/receipts) are sent to the address you gave us when you signed up.\n"
        "* Your [receipts](#keep) are kept too, in your account, where you can download them at any time.\n\n"
        "## Data retention\n\nWe keep receipts for seven years, as the law requires of every shop in the country.\n",
        "landmarks"), encoding="utf-8")
    texts = [b.text.text for b in documents.load(path)[1]]
    assert texts.count("What we collect") == texts.count("Data retention") == 1
    assert "Our receipts are sent to the address you gave us when you signed up." in texts
    assert "Your receipts are kept too, in your account, where you can download them at any time." in texts


def test_dash_bullets_are_markup_and_a_bold_label_item_heads_its_list(tmp_path):
    """Markdown's "- " opens a list item as "* " does: neither is the policy's text, and "- **Choice**" labels the
    items under it. A numbering ("1.") or a typographic dash ("– Records") is the policy's own."""
    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nAcme follows these principles whenever it handles your personal information:\n\n"
        "- **Choice**\n  - We let you choose whether your information is shared with third parties.\n"
        "- **Security**\n  - We protect your personal information with reasonable measures.\n\n"
        "1. We keep records of payment for five years.\n\n– Records of complaints: three years\n")
    assert "We let you choose whether your information is shared with third parties." in texts
    assert not any(text.startswith("- ") for text in texts)
    assert [b.text.text for b in blocks if b.kind == "heading"] == ["Acme Privacy Policy", "Choice", "Security"]
    assert "1. We keep records of payment for five years." in texts and "– Records of complaints: three years" in texts


def test_code_spans_keep_cookie_names_exactly_and_links_with_spaces_keep_their_text(tmp_path):
    _, _, texts = load_written(tmp_path / "acme.md",
        "# Acme Cookies\n\nThese cookies keep you signed in and let us measure how our pages are used:\n\n"
        "| Cookie | Purpose |\n|---|---|\n| `__Host-user_session_same_site` | Checks that a request comes from Acme. |\n"
        "| `_ga` | Used by **Google Analytics** to tell visitors apart. |\n\n"
        "You may opt out of Google Analytics [here]( https://tools.google.com/dlpage/gaoptout) or with our "
        "[settings page](https://acme.example/settings \"Settings\") at any time you like.\n")
    assert "__Host-user_session_same_site\nChecks that a request comes from Acme." in texts
    assert "_ga\nUsed by Google Analytics to tell visitors apart." in texts
    assert ("You may opt out of Google Analytics here or with our settings page at any time you like.") in texts


@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_a_short_line_alone_heads_its_section_in_markdown_and_text_but_not_after_a_table(tmp_path, suffix):
    _, blocks, _ = load_written(tmp_path / f"acme{suffix}",
        "# Acme Privacy Policy\n\nWe keep records of your purchases.\n\n| Record | Period |\n| --- | --- |\n"
        "| Payment records | 5 years |\n\n\u00a0Provide personal information\n\n"
        "Acme does not give your personal information to anyone else.\n")
    assert [(b.kind, b.text.text) for b in blocks if "Provide" in b.text.text] == [
        ("heading", "Provide personal information")]


def test_a_sentence_ending_inside_quotes_heads_no_section_and_a_date_line_is_no_heading(tmp_path):
    from app import clauses

    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nJanuary 1, 2020\n\nEffective November 30, 2018\n\n"
        "This policy explains how Acme receives information about you and what it does with that information.\n\n"
        "## What do we mean by \"personal information?\"\n\n"
        "For us, personal information means information that identifies you, like your name or email address.\n\n"
        "Any information that falls outside of this is \"non-personal information.\"\n\n"
        "If we store your personal information with information that is non-personal, we treat both as personal.\n")
    assert [b.text.text for b in blocks if b.kind == "heading"] == [
        "Acme Privacy Policy", "What do we mean by \"personal information?\""]
    assert "January 1, 2020" in texts and "Effective November 30, 2018" in texts
    assert {c.section for c in clauses.split(policy, blocks) if "non-personal" in c.text} == {
        "What do we mean by \"personal information?\""}


def test_the_policy_runs_to_its_contact_address_and_the_end_of_its_last_list(tmp_path):
    """Scraps after the last sentence are chrome; the policy's own contact lines and the rest of the list its last
    sentence stands in are not, however short."""
    policy, blocks, texts = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nWe may set these cookies when you visit one of the following pages of our site:\n\n"
        "- acme.example/home (if you are logged out of your account when you visit it)\n- acme.example/pricing\n"
        "- acme.example/blog\n\n## Contact us\n\nAcme Inc.\n123 Main Street\n\nEmail: privacy@acme.example\n\nBack to top\n")
    assert texts[-5:] == ["acme.example/pricing", "acme.example/blog", "Contact us", "Acme Inc. 123 Main Street",
                          "Email: privacy@acme.example"]
    assert policy.contact == ["privacy@acme.example"]


def test_legal_citations_do_not_end_sentences():
    from app import clauses

    text = ("California residents may ask under Cal. Civ. Code § 1798.83 about disclosures. "
            "Records are kept as 20 U.S.C. Sec. 1232g requires. We comply with Art. 6 of the GDPR.")
    assert [text[a:b] for a, b in clauses.sentence_spans(text, 0, len(text))] == [
        "California residents may ask under Cal. Civ. Code § 1798.83 about disclosures.",
        "Records are kept as 20 U.S.C. Sec. 1232g requires.", "We comply with Art. 6 of the GDPR."]


def test_a_list_that_finishes_its_lead_ins_sentence_stays_with_it(tmp_path):
    from app import clauses

    policy, blocks, _ = load_written(tmp_path / "acme.md",
        "# Acme Privacy Policy\n\nThis policy explains how Acme collects, uses and shares your personal information.\n\n"
        "## Non-discrimination\n\n"
        "The law prohibits businesses from discriminating against you for exercising your rights, including by\n\n"
        "- denying goods or services\n- charging different prices or rates for goods or services\n\n"
        "## Cookies\n\nAcme sets a few cookies on your device when you visit our websites.\n")
    found = clauses.split(policy, blocks)
    assert [c.section for c in found] == ["", "Non-discrimination", "Cookies"]
    assert "including by" in found[1].text and "charging different prices" in found[1].text


@pytest.mark.parametrize("opening, section", [
    ("### Acme's Notice to California Residents", "Acme's Notice to California Residents"),
    ("## Privacy Policy", ""),  # the title again, not a section
])
def test_the_heading_right_above_the_first_sentence_is_its_section_unless_it_restates_the_title(tmp_path, opening, section):
    from app import clauses

    policy, blocks, _ = load_written(tmp_path / "acme.md",
        f"# Acme Privacy Policy\n\nEffective January 1, 2020\n\n{opening}\n\n"
        "The California Consumer Privacy Act gives California residents rights over their personal information.\n")
    assert [c.section for c in clauses.split(policy, blocks)] == ["", section]


def test_headings_among_a_pages_navigation_scraps_are_not_sections(tmp_path):
    from app import clauses

    policy, blocks, _ = load_written(tmp_path / "acme.md",
        "## Skip to content\n\n- 1. ABOUT\n- 2. Greeting\n\n## Greeting\n\n"
        "We value the personal information of our members and do our best to protect it at all times.\n")
    assert [c.section for c in clauses.split(policy, blocks)] == [""]
