from django.urls import path

from . import views

app_name = "help"
urlpatterns = [
    path("<slug:shop_code>/", views.help_centre, name="shop"),
]
