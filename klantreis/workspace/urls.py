from django.urls import path

from klantreis.workspace import board, desk, journey_editor, task_queue, views

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
    path("requests/<str:reference>/answer/", desk.desk_answer, name="desk_answer"),
    path("tasks/", task_queue.task_list, name="tasks"),
    path("tasks/<int:task_id>/done/", task_queue.task_done, name="task_done"),
    path("journeys/", journey_editor.journey_list, name="journeys"),
    path("journeys/<slug:key>/", journey_editor.journey_edit, name="journey_edit"),
    path("journeys/<slug:key>/<int:version>/", journey_editor.journey_version, name="journey_version"),
]
