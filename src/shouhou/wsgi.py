import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shouhou.settings")
application = get_wsgi_application()

# Each gunicorn worker loads the assistant's models as it boots, before it takes requests,
# so the first buyer who chats does not wait for them (SHOUHOU_WARM_ASSISTANT=0 skips it).
if os.environ.get("SHOUHOU_WARM_ASSISTANT", "1") != "0":
    from shouhou.assistant import nlp

    nlp.warm()
