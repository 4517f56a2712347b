"""Forms of the shop settings pages: they parse what was typed (numbers, yuan, choices);
the bounds and business checks live in the services, which say what is wrong."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from shouhou.assistant.models import FaqCategory
from shouhou.cases import lifecycle as lc
from shouhou.cases.models import PostagePayer
from shouhou.cases.policies import deadline_label
from shouhou.core.i18n import tr
from shouhou.core.models import Role


def _whole(label: str) -> forms.IntegerField:
    # Django's own messages ("请输入整数。" / "Enter a whole number.") follow the language.
    return forms.IntegerField(label=label)


class PolicyForm(forms.Form):
    """Dynamic: one hours field per deadline key, one checkbox group per reason."""

    after_sales_window_days = _whole("after_sales_window_days")
    no_reason_days = _whole("no_reason_days")
    max_evidence_files = _whole("max_evidence_files")
    return_postage_payer = forms.ChoiceField(choices=PostagePayer.choices)
    finance_limit_yuan = forms.DecimalField(required=False, max_digits=14, decimal_places=2)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in lc.DEADLINES:
            self.fields[f"dl_{key}"] = _whole(key)
        type_choices = [(t.value, t.value) for t in lc.CaseType]
        for reason in lc.Reason:
            self.fields[f"rt_{reason.value}"] = forms.MultipleChoiceField(
                choices=type_choices, required=False
            )

    def changes(self) -> dict:
        d = self.cleaned_data
        limit: Decimal | None = d["finance_limit_yuan"]
        return {
            "after_sales_window_days": d["after_sales_window_days"],
            "no_reason_days": d["no_reason_days"],
            "max_evidence_files": d["max_evidence_files"],
            "return_postage_payer": d["return_postage_payer"],
            # Yuan on the page, fen in the database; a negative amount fails in the service.
            "finance_approval_limit_fen": None if limit is None else int(limit * 100),
            "deadline_hours": {key: d[f"dl_{key}"] for key in lc.DEADLINES},
            "reason_types": {r.value: d[f"rt_{r.value}"] for r in lc.Reason},
        }


class ReturnAddressForm(forms.Form):
    label = forms.CharField(max_length=60)
    contact_name = forms.CharField(max_length=60)
    phone = forms.CharField(max_length=20)
    address = forms.CharField(max_length=300, widget=forms.Textarea)
    make_default = forms.BooleanField(required=False)


class StaffAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    display_name = forms.CharField(max_length=60, required=False)
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r != Role.ARBITER])
    password = forms.CharField(max_length=128, required=False, widget=forms.PasswordInput)


class FaqForm(forms.Form):
    category = forms.ChoiceField(choices=FaqCategory.choices)
    question = forms.CharField(max_length=200)
    answer = forms.CharField(max_length=4000, widget=forms.Textarea)
    keywords = forms.CharField(max_length=2000, required=False, widget=forms.Textarea)
    is_published = forms.BooleanField(required=False)
    position = forms.IntegerField(min_value=0, max_value=9999, initial=100)


class CannedForm(forms.Form):
    title = forms.CharField(max_length=60)
    body = forms.CharField(max_length=2000, widget=forms.Textarea)
    case_types = forms.MultipleChoiceField(
        choices=[(t.value, lc.CASE_TYPE_LABELS[t]) for t in lc.CaseType], required=False
    )
    statuses = forms.MultipleChoiceField(
        choices=[(s.value, lc.STATUS_LABELS[s]) for s in lc.Status], required=False
    )
    is_active = forms.BooleanField(required=False)
    position = forms.IntegerField(min_value=0, max_value=9999, initial=100)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80)


def first_error(form: forms.Form) -> str:
    """One line for the message bar: the field's name and what is wrong with it."""
    for name, errors in form.errors.items():
        zh, en = FIELD_NAMES.get(name, (name, name))
        return f"{tr(zh, en)}：{errors[0]}"
    return ""


FIELD_NAMES = {
    "after_sales_window_days": ("售后期（天）", "After-sales window (days)"),
    "no_reason_days": ("七天无理由天数", "No-reason days"),
    "max_evidence_files": ("凭证数量上限", "Evidence file limit"),
    "return_postage_payer": ("退货运费承担", "Return postage"),
    "finance_limit_yuan": ("财务审批额度（元）", "Finance approval limit (yuan)"),
    "label": ("名称", "Label"),
    "contact_name": ("联系人", "Contact"),
    "phone": ("电话", "Phone"),
    "address": ("详细地址", "Address"),
    "username": ("用户名", "Username"),
    "display_name": ("显示名", "Display name"),
    "role": ("角色", "Role"),
    "password": ("初始密码", "Initial password"),
    "category": ("分类", "Category"),
    "question": ("问题", "Question"),
    "answer": ("答案", "Answer"),
    "keywords": ("相似问法", "Other phrasings"),
    "position": ("顺序", "Position"),
    "title": ("标题", "Title"),
    "body": ("内容", "Body"),
    "case_types": ("适用类型", "Case types"),
    "statuses": ("适用状态", "Statuses"),
    "name": ("名称", "Name"),
    **{f"dl_{k}": (f"期限「{deadline_label(k)}」", f"Deadline {k}") for k in lc.DEADLINES},
    **{f"rt_{r.value}": (lc.REASON_LABELS[r], r.value) for r in lc.Reason},
}
