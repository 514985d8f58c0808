"""Reports a reviewer can read: self-contained HTML with inline SVG charts."""

from custodes.report._governance import (
    render_audit_html,
    render_disclosure_html,
    render_mosaic_html,
)
from custodes.report._html import render_assessment_html
from custodes.report._release import (
    fold_rare,
    release_html,
    render_release_html,
    smallest_shown,
)
from custodes.report._scan import render_scan_html

__all__ = [
    "fold_rare",
    "release_html",
    "render_assessment_html",
    "render_audit_html",
    "render_disclosure_html",
    "render_mosaic_html",
    "render_release_html",
    "render_scan_html",
    "smallest_shown",
]
