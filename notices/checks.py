"""System checks for what notices need from the machine: the Chinese font (without it Chinese text would
print as empty boxes, so rendering also refuses) and HarfBuzz's subsetting library (without it WeasyPrint
falls back to fontTools and a Chinese page takes tens of seconds)."""

import ctypes.util
import functools
import shutil
import subprocess

from django.core.checks import Warning, register

CJK_FAMILY = "Noto Sans CJK SC"


@functools.cache
def cjk_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    listed = subprocess.run(  # noqa: S603 - a fixed command line, nothing from users
        [fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
    )
    return CJK_FAMILY in listed.stdout


@functools.cache
def harfbuzz_subset_installed() -> bool:
    return ctypes.util.find_library("harfbuzz-subset") is not None


@register()
def notice_fonts_check(app_configs, **kwargs):
    problems = []
    if not cjk_font_installed():
        problems.append(
            Warning(
                f"The font {CJK_FAMILY} is not installed: Chinese text in notices would print as empty boxes, "
                "so notices cannot be issued.",
                hint="Install Debian's fonts-noto-cjk (`make system-packages` does).",
                id="notices.W001",
            )
        )
    if not harfbuzz_subset_installed():
        problems.append(
            Warning(
                "HarfBuzz's subsetting library is missing: WeasyPrint falls back to fontTools and renders "
                "Chinese notices 6-70 times slower.",
                hint="Install Debian's libharfbuzz-subset0 (`make system-packages` does).",
                id="notices.W002",
            )
        )
    return problems
