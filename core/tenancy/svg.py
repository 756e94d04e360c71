"""Clean an uploaded SVG logo down to shapes, text and paint, so that no script runs.

The document is parsed with defusedxml (no DTD, no entities, nothing external is
fetched) and rebuilt from an allowlist: elements and attributes not on it are
dropped, together with everything inside a dropped element. What survives can
refer only to the document itself (``href="#id"``, ``url(#id)``); scripts, event
handlers, ``foreignObject``, links, embedded images, animation, ``use`` (which can
multiply a document's size exponentially) and CSS that imports or fetches anything
are gone. The result is serialised afresh — the upload's own bytes are never served.
"""

from __future__ import annotations

import re

# Only to build and serialise the clean tree; parsing goes through defusedxml.
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_ELEMENTS = 5000
MAX_DEPTH = 40

ELEMENTS = frozenset(
    {
        "svg", "g", "defs", "title", "desc", "style", "path", "rect", "circle", "ellipse",
        "line", "polyline", "polygon", "text", "tspan", "textPath", "linearGradient",
        "radialGradient", "stop", "clipPath", "mask", "pattern", "symbol", "marker",
    }
)  # fmt: skip
ATTRIBUTES = frozenset(
    {
        # structure and geometry
        "id", "class", "viewBox", "preserveAspectRatio", "width", "height", "x", "y",
        "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "d", "points",
        "transform", "version", "role", "lang", "dx", "dy", "rotate", "textLength",
        "lengthAdjust", "startOffset", "refX", "refY", "markerWidth", "markerHeight",
        "markerUnits", "orient", "gradientUnits", "gradientTransform", "spreadMethod",
        "offset", "patternUnits", "patternContentUnits", "patternTransform",
        "clipPathUnits", "maskUnits", "maskContentUnits", "aria-label", "aria-hidden",
        # presentation
        "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
        "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray",
        "stroke-dashoffset", "opacity", "color", "stop-color", "stop-opacity",
        "clip-path", "clip-rule", "mask", "display", "visibility", "font-family",
        "font-size", "font-weight", "font-style", "font-variant", "letter-spacing",
        "word-spacing", "text-anchor", "dominant-baseline", "alignment-baseline",
        "baseline-shift", "text-decoration", "writing-mode", "direction",
        "marker-start", "marker-mid", "marker-end", "vector-effect", "shape-rendering",
        "paint-order", "mix-blend-mode", "isolation", "style", "href", "xml:space",
    }
)  # fmt: skip
# url(...) may only point inside the document; nothing else in CSS may fetch.
_URL = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_UNSAFE_CSS = re.compile(
    r"@import|@font-face|@namespace|image-set|\bsrc\s*\(|expression\s*\(|javascript:|\\|<", re.I
)


class SvgRejected(ValueError):
    """The upload is not an SVG document this module can clean (reason in ``args[0]``)."""


def sanitise_svg(data: bytes) -> bytes:
    """The cleaned document (UTF-8), or :class:`SvgRejected`."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SvgRejected("it declares a DTD or entities") from exc
    except ET.ParseError as exc:
        raise SvgRejected("it is not well-formed XML") from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise SvgRejected("its root element is not <svg>")
    count = 0

    def clean(element: ET.Element, depth: int) -> ET.Element | None:
        nonlocal count
        tag = _local(element.tag, SVG_NS)
        if tag not in ELEMENTS or depth > MAX_DEPTH:
            return None
        count += 1
        if count > MAX_ELEMENTS:
            raise SvgRejected("it has too many elements")
        out = ET.Element(tag, _clean_attributes(element.attrib))
        if tag == "style":
            css = element.text or ""
            out.text = css if safe_css(css) else ""
            return out
        out.text = element.text
        for child in element:
            kept = clean(child, depth + 1)
            if kept is not None:
                kept.tail = child.tail
                out.append(kept)
        return out

    cleaned = clean(root, 0)
    assert cleaned is not None  # the root is <svg>
    cleaned.set("xmlns", SVG_NS)
    return ET.tostring(cleaned, encoding="utf-8", xml_declaration=False)


def _local(name: str, namespace: str) -> str | None:
    """``name``'s local part when it is in ``namespace``; None for any other."""
    prefix = f"{{{namespace}}}"
    if name.startswith(prefix):
        return name[len(prefix) :]
    return None if name.startswith("{") else name


def _clean_attributes(attributes: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for raw, value in attributes.items():
        name = raw
        if raw.startswith("{"):
            # Of namespaced attributes only xlink:href and xml:space are kept.
            name = {f"{{{XLINK_NS}}}href": "href", f"{{{XML_NS}}}space": "xml:space"}.get(raw, "")
        if name not in ATTRIBUTES or name.lower().startswith("on"):
            continue
        if name == "href" and not _local_reference(value):
            continue
        if (name == "style" or "url" in value.lower()) and not safe_css(value):
            continue
        kept[name] = value
    return kept


def _local_reference(value: str) -> bool:
    return re.fullmatch(r"#[A-Za-z_][\w.-]*", value.strip()) is not None


def safe_css(css: str) -> bool:
    """No imports, escapes or fetches: every ``url()`` points inside the document."""
    if _UNSAFE_CSS.search(css):
        return False
    if re.search(r"url\s*\(", css, re.I) and not all(
        _local_reference(target) for _, target in _URL.findall(css)
    ):
        return False
    # A url( that the pattern above did not match (unbalanced) is refused too.
    return len(re.findall(r"url\s*\(", css, re.I)) == len(_URL.findall(css))
