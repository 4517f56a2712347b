"""The notification endpoint form: it only parses what was typed; the services check the
URL, the addresses and the topics and say what is wrong (with a stable code)."""

from __future__ import annotations

from django import forms

from shouhou.notify.models import Channel


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=80)
    channel = forms.ChoiceField(choices=Channel.choices, required=False)
    url = forms.CharField(max_length=2000, required=False)
    recipients = forms.CharField(max_length=4000, required=False, widget=forms.Textarea)
    # Topics are read with request.POST.getlist("topics"): none or an unknown one is the
    # service's notify_topics_invalid.
    # DingTalk's 加签 secret, typed by the admin; blank on edit keeps the current one.
    secret = forms.CharField(max_length=200, required=False, strip=True)
    clear_secret = forms.BooleanField(required=False)


FIELD_NAMES = {
    "name": ("名称", "Name"),
    "channel": ("渠道", "Channel"),
    "url": ("地址", "URL"),
    "recipients": ("收件人", "Recipients"),
    "topics": ("通知主题", "Topics"),
    "secret": ("加签密钥", "Signing secret"),
}


def first_error(form: forms.Form) -> str:
    from shouhou.core.i18n import tr

    for name, errors in form.errors.items():
        zh, en = FIELD_NAMES.get(name, (name, name))
        return f"{tr(zh, en)}：{errors[0]}"
    return ""
