from django.urls import path

from klantreis.workspace import board, views

app_name = "workspace"
urlpatterns = [
    path("", views.home, name="home"),
    path("requests/<str:reference>/", views.request_detail, name="request_detail"),
    path("requests/<str:reference>/appointment/", views.appointment, name="appointment"),
    path("requests/<str:reference>/photos/<int:photo_id>/", views.request_photo, name="request_photo"),
    path("customers/", views.customer_search, name="customer_search"),
    path("intake/<int:customer_id>/", views.intake, name="intake"),
    path("board/", board.board, name="board"),
    path("board/pin/", board.board_pin, name="board_pin"),
    path("board/replan/", board.board_replan, name="board_replan"),
]
