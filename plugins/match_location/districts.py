"""Approximate centres of Munich's 25 city districts (Stadtbezirke), the default places.

Rough centre points in degrees (latitude, longitude), estimated for this plugin: good
to a few hundred metres, which is all a "how far apart do they live" score needs. A
few names people commonly give instead of the official ones (the quarter that a
district is named after) point to the same centre. Other cities set ``districts`` in
their tenant file.
"""

from __future__ import annotations

MUNICH: dict[str, tuple[float, float]] = {
    "Altstadt-Lehel": (48.137, 11.582),
    "Ludwigsvorstadt-Isarvorstadt": (48.128, 11.562),
    "Maxvorstadt": (48.149, 11.566),
    "Schwabing-West": (48.164, 11.570),
    "Au-Haidhausen": (48.128, 11.596),
    "Sendling": (48.118, 11.546),
    "Sendling-Westpark": (48.117, 11.520),
    "Schwanthalerhöhe": (48.135, 11.538),
    "Neuhausen-Nymphenburg": (48.157, 11.526),
    "Moosach": (48.180, 11.512),
    "Milbertshofen-Am Hart": (48.190, 11.572),
    "Schwabing-Freimann": (48.180, 11.602),
    "Bogenhausen": (48.153, 11.626),
    "Berg am Laim": (48.124, 11.634),
    "Trudering-Riem": (48.123, 11.678),
    "Ramersdorf-Perlach": (48.099, 11.641),
    "Obergiesing-Fasangarten": (48.106, 11.593),
    "Untergiesing-Harlaching": (48.096, 11.573),
    "Thalkirchen-Obersendling-Forstenried-Fürstenried-Solln": (48.085, 11.521),
    "Hadern": (48.114, 11.481),
    "Pasing-Obermenzing": (48.151, 11.460),
    "Aubing-Lochhausen-Langwied": (48.156, 11.401),
    "Allach-Untermenzing": (48.192, 11.462),
    "Feldmoching-Hasenbergl": (48.210, 11.533),
    "Laim": (48.137, 11.503),
    # Common shorter names.
    "Altstadt": (48.137, 11.576),
    "Lehel": (48.138, 11.590),
    "Isarvorstadt": (48.128, 11.565),
    "Haidhausen": (48.130, 11.597),
    "Schwabing": (48.162, 11.582),
    "Neuhausen": (48.156, 11.539),
    "Nymphenburg": (48.158, 11.510),
    "Westend": (48.135, 11.538),
    "Giesing": (48.108, 11.588),
    "Perlach": (48.093, 11.640),
    "Neuperlach": (48.101, 11.651),
    "Pasing": (48.148, 11.462),
    "Solln": (48.078, 11.527),
    "Harlaching": (48.092, 11.575),
    "Trudering": (48.122, 11.667),
    "Riem": (48.130, 11.695),
    "Ramersdorf": (48.112, 11.622),
    "Obergiesing": (48.112, 11.590),
    "Untergiesing": (48.110, 11.570),
    "Thalkirchen": (48.100, 11.545),
    "Obersendling": (48.097, 11.530),
    "Forstenried": (48.075, 11.505),
    "Fürstenried": (48.090, 11.490),
    "Milbertshofen": (48.185, 11.570),
    "Freimann": (48.198, 11.610),
    "Obermenzing": (48.165, 11.465),
    "Untermenzing": (48.180, 11.455),
    "Allach": (48.195, 11.465),
    "Aubing": (48.155, 11.410),
    "Lochhausen": (48.178, 11.405),
    "Feldmoching": (48.215, 11.540),
    "Hasenbergl": (48.215, 11.555),
}
