"""Routes of agents' sign-in (the console's and the admin's pages, the JWT API), included by gofly_site/urls.py
before the admin's own."""

from django.contrib.auth import views as auth_views
from django.urls import path
from rest_framework_simplejwt.views import TokenRefreshView

from . import views

urlpatterns = [
    path("login", views.ConsoleLoginView.as_view(), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("account", views.profile, name="account"),
    path("admin/login/", views.admin_login, name="admin-login"),
    path("api/v1/auth/token", views.TokenObtainView.as_view(), name="jwt-obtain"),
    path("api/v1/auth/token/refresh", TokenRefreshView.as_view(), name="jwt-refresh"),
]
