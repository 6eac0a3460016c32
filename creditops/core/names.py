"""Names kept in both portal languages. A stage, product, team, policy or guardrail profile has its Chinese
name (`name`, the lender's own) and its English one (`name_en`); every screen, notice and export shows the
one of the reader's language, falling back to the other when one is blank."""

import re

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class NamedInTwoLanguages(models.Model):
    name_en = models.CharField(_("name in English"), max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def local_name(self) -> str:
        """The name in the language of the request (or of the notice being rendered)."""
        return self.name_in(get_language() or "")

    def name_in(self, language: str) -> str:
        first, second = (self.name_en, self.name) if language.startswith("en") else (self.name, self.name_en)
        return first or second


# A bilingual name as the first version stored it: "最后通牒 Final demand", "中国 … / China …".
_SEPARATOR = re.compile(r"\s+/\s+")
_FIRST_LATIN_WORD = re.compile(r"\s(?=[A-Za-z][^\u3400-\u9fff]*$)")


def split_bilingual(text: str) -> tuple[str, str]:
    """("最后通牒", "Final demand") from "最后通牒 Final demand"; a name in one language stays whole."""
    text = text.strip()
    parts = _SEPARATOR.split(text, maxsplit=1)
    if len(parts) == 2:
        return parts[0].strip(), parts[1].strip()
    if not re.search(r"[\u3400-\u9fff]", text):
        return text, text
    match = _FIRST_LATIN_WORD.search(text)
    if match is None:
        return text, ""
    return text[: match.start()].strip(), text[match.end() :].strip()


def split_names(*model_labels: str):
    """A data migration's forward step: names stored as "中文 English" (the first version's one field)
    become one per language."""

    def forward(apps, schema_editor):
        for label in model_labels:
            model = apps.get_model(*label.split("."))
            for row in model.objects.filter(name_en=""):
                row.name, row.name_en = split_bilingual(row.name)
                row.save(update_fields=["name", "name_en"])

    return forward
