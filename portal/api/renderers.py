"""The browsable API (the HTML pages a signed-in member sees at /api/v1/…), made to pass
the accessibility checks every portal page passes.

``templates/rest_framework/api.html`` overrides what REST framework puts in blocks (the
branding, the breadcrumbs as a navigation landmark, the colours). Three things sit
outside any block of REST framework's ``base.html`` and are mended in the HTML here: the
``<html>`` element without a language, a second ``role="main"`` inside the first, and the
format menu's button that has only an icon. Each replacement is checked by
tests/api/test_browsable_api.py, so a REST framework upgrade that moves them is noticed.
"""

from rest_framework import renderers

REPAIRS = [
    ("<html>", '<html lang="en">'),
    (
        '<div class="content-main" role="main"  aria-label="main content">',
        '<div class="content-main">',
    ),
    (
        'data-toggle="dropdown" title="Specify a format for the GET request">',
        'data-toggle="dropdown" title="Specify a format for the GET request"'
        ' aria-label="Choose a format">',
    ),
]


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        html = super().render(data, accepted_media_type, renderer_context)
        for old, new in REPAIRS:
            html = html.replace(old, new, 1)
        return html
