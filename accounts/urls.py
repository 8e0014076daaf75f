"""Routes of agents' sign-in (the console's and the admin's pages, the JWT API), their profile and uploaded
avatars, included by gofly_site/urls.py before the admin's own."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from rest_framework_simplejwt.views import TokenRefreshView

from . import views

urlpatterns = [
    path("login", views.ConsoleLoginView.as_view(), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("account", views.profile, name="account"),
    # Before chat's media/<key> (which never matches a path with a slash anyway).
    re_path(
        r"^media/avatars/(?P<enterprise_id>[0-9]{1,12})/(?P<token>[0-9a-f]{32})\.webp$",
        views.avatar_media,
        name="avatar-media",
    ),
    path("admin/login/", views.admin_login, name="admin-login"),
    path("api/v1/auth/token", views.TokenObtainView.as_view(), name="jwt-obtain"),
    path("api/v1/auth/token/refresh", TokenRefreshView.as_view(), name="jwt-refresh"),
]
