"""Sphinx configuration of the course website (`make site`; tools/site.py stages the sources
into build/site-src/ and builds them into build/site/)."""

project = "NODEbook"
author = "the NODEbook authors"
copyright = "the NODEbook authors; code MIT"

extensions = ["myst_nb"]
# The committed notebooks with their committed outputs: nothing is executed.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 6

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

html_theme = "sphinx_book_theme"
html_title = "NODEbook: Neural ODEs from convolutions to adjoints"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    "show_prev_next": True,
}
html_last_updated_fmt = None
# The light/dark switch starts at "follow the system" (otherwise, with nothing stored yet, the
# theme logs an error on every page opened from a file).
html_context = {"default_mode": "auto"}
# MathJax from this site, not a CDN: tools/site.py copies it into _static/mathjax/.
mathjax_path = "mathjax/tex-chtml.js"
