"""Which web UI blueprints a node serves, by its role (DESIGN §1, §6).

``auth`` (sign-in, language, static files) and ``public`` (status lookup) and ``rating``
(citizen satisfaction) are on every node; the
commune and mobile roles serve the one-stop desk (``staff``) and the field intake (``mobile``);
the district serves its admin console (``district``). ``create_app`` registers what this returns.
"""

from __future__ import annotations

from flask import Blueprint


def blueprints_for_role(role: str) -> list[Blueprint]:
    from web.auth import bp as auth_bp
    from web.district import bp as district_bp
    from web.files import bp as files_bp
    from web.mobile import bp as mobile_bp
    from web.public import bp as public_bp
    from web.rating import bp as rating_bp
    from web.staff import bp as staff_bp
    from web.usb import bp as usb_bp

    chosen = [auth_bp, public_bp, rating_bp]
    if role == "district":
        chosen.append(district_bp)
    else:  # commune, mobile (and an uninitialised test node)
        chosen += [staff_bp, mobile_bp, usb_bp, files_bp]
    return chosen
