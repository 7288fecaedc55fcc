from django.urls import path

from ketapath.scheduling import feed_views, measurement_views, views

app_name = "scheduling"

urlpatterns = [
    path("calendar/", views.calendar_day, name="day"),
    path("calendar/week/", views.calendar_week, name="week"),
    path(
        "patients/<uuid:patient_id>/appointments/",
        views.patient_appointments,
        name="patient_appointments",
    ),
    path("patients/<uuid:patient_id>/courses/new/", views.course_new, name="course_new"),
    path("courses/<uuid:course_id>/", views.course_detail, name="course"),
    path("courses/<uuid:course_id>/slots/", views.course_slots, name="course_slots"),
    path("courses/<uuid:course_id>/book/", views.course_book, name="course_book"),
    path(
        "appointments/<uuid:appointment_id>/check-in/",
        views.appointment_check_in,
        name="check_in",
    ),
    path("appointments/<uuid:appointment_id>/undo/", views.appointment_undo, name="undo"),
    path("appointments/<uuid:appointment_id>/cancel/", views.appointment_cancel, name="cancel"),
    path("appointments/<uuid:appointment_id>/no-show/", views.appointment_no_show, name="no_show"),
    path(
        "appointments/<uuid:appointment_id>/replacement/",
        views.appointment_replacement,
        name="replacement",
    ),
    path("ical/<str:token>.ics", feed_views.feed_ics, name="feed_ics"),
    path("calendar/feed/", feed_views.staff_feed, name="staff_feed"),
    path(
        "patients/<uuid:patient_id>/calendar-feed/",
        feed_views.patient_feed,
        name="patient_feed",
    ),
    path(
        "courses/<uuid:course_id>/measurements/",
        measurement_views.course_measurements,
        name="course_measurements",
    ),
    path(
        "measurements/overdue/",
        measurement_views.overdue_measurements,
        name="overdue_measurements",
    ),
]
