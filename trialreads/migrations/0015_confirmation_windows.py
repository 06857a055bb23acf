"""Confirmation windows of unconfirmed progression, sponsor contacts and their notifications
(issue 15 item 4), and the audit event types they write (``AuditEvent.event_type`` choices only:
no column changes, so no table rebuild and the lock triggers of 0002 stay as they are).
Numbered after 0014_criteria_inputs.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trialreads', '0014_criteria_inputs'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='event_type',
            field=models.CharField(choices=[('TRIAL_CREATED', 'Trial Created'), ('CHARTER_PUBLISHED', 'Charter Published'), ('SITE_CREATED', 'Site Created'), ('SUBJECT_CREATED', 'Subject Created'), ('SUBJECT_UPDATED', 'Subject Updated'), ('TIMEPOINT_CREATED', 'Timepoint Created'), ('MEMBERSHIP_ADDED', 'Membership Added'), ('MEMBERSHIP_REMOVED', 'Membership Removed'), ('READS_ASSIGNED', 'Reads Assigned'), ('TIMEPOINT_READ_SAVED', 'Timepoint Read Saved'), ('TIMEPOINT_READ_SIGNED', 'Timepoint Read Signed'), ('SIGN_FAILED', 'Sign Failed'), ('TIMEPOINT_READ_UNLOCKED', 'Timepoint Read Unlocked'), ('ACCESS_DENIED', 'Access Denied'), ('ADJUDICATION_CREATED', 'Adjudication Created'), ('ADJUDICATION_DECIDED', 'Adjudication Decided'), ('ADJUDICATION_ASSIGNED', 'Adjudication Assigned'), ('ADJUDICATION_VOIDED', 'Adjudication Voided'), ('ADJUDICATION_EVALUATION_FAILED', 'Adjudication Evaluation Failed'), ('READ_ACCEPTED', 'Read Accepted'), ('INVESTIGATOR_ASSESSMENTS_IMPORTED', 'Investigator Assessments Imported'), ('ENDPOINT_COMPUTED', 'Endpoint Computed'), ('EXPORT_CREATED', 'Export Created'), ('EXPORT_DOWNLOADED', 'Export Downloaded'), ('AUDIT_VERIFIED', 'Audit Verified'), ('LOGIN_FAILED', 'Login Failed'), ('LOGIN_LOCKED_OUT', 'Login Locked Out'), ('API_TOKEN_ISSUED', 'Api Token Issued'), ('API_TOKEN_REVOKED', 'Api Token Revoked'), ('CONFIRMATION_WINDOW_OPENED', 'Confirmation Window Opened'), ('CONFIRMATION_WINDOW_SOURCE_ADDED', 'Confirmation Window Source Added'), ('CONFIRMATION_WINDOW_SOURCE_REMOVED', 'Confirmation Window Source Removed'), ('CONFIRMATION_WINDOW_CLOSED', 'Confirmation Window Closed'), ('CONFIRMATION_WINDOW_REOPENED', 'Confirmation Window Reopened'), ('CONFIRMATION_WINDOW_OVERDUE', 'Confirmation Window Overdue'), ('CONFIRMATION_EVALUATION_FAILED', 'Confirmation Evaluation Failed'), ('CONFIRMATION_NOTIFICATION_SENT', 'Confirmation Notification Sent'), ('CONFIRMATION_NOTIFICATION_FAILED', 'Confirmation Notification Failed'), ('SPONSOR_CONTACT_CREATED', 'Sponsor Contact Created'), ('SPONSOR_CONTACT_UPDATED', 'Sponsor Contact Updated')], max_length=40),
        ),
        migrations.CreateModel(
            name='ConfirmationWindow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('criterion', models.CharField(max_length=20)),
                ('scan_date', models.DateField()),
                ('window_min_days', models.PositiveIntegerField()),
                ('window_max_days', models.PositiveIntegerField()),
                ('window_start', models.DateField()),
                ('window_end', models.DateField()),
                ('charter_version', models.PositiveIntegerField()),
                ('opened_at', models.DateTimeField()),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('outcome', models.CharField(blank=True, choices=[('CONFIRMED', 'Progression confirmed'), ('RESET', 'Progression reset (not confirmed)'), ('WITHDRAWN', 'Withdrawn (the read that showed it was reopened)')], default='', max_length=10)),
                ('overdue_notified_at', models.DateTimeField(blank=True, null=True)),
                ('closing_timepoint_read', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='trialreads.timepointread')),
                ('source_timepoint_reads', models.ManyToManyField(blank=True, related_name='+', to='trialreads.timepointread')),
                ('subject', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='confirmation_windows', to='trialreads.subject')),
                ('timepoint', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='trialreads.imagingtimepoint')),
            ],
            options={
                'ordering': ['subject', 'criterion', 'scan_date'],
            },
        ),
        migrations.CreateModel(
            name='SponsorContact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('email', models.EmailField(max_length=254)),
                ('webhook_url', models.URLField(blank=True, default='', max_length=500)),
                ('webhook_secret', models.CharField(blank=True, default='', max_length=200)),
                ('active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('trial', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sponsor_contacts', to='trialreads.trial')),
            ],
            options={
                'ordering': ['trial', 'name', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='ConfirmationNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('OPENED', 'Confirmation window opened'), ('OVERDUE', 'Confirmation window overdue')], max_length=10)),
                ('channel', models.CharField(choices=[('EMAIL', 'Email'), ('WEBHOOK', 'Webhook')], max_length=10)),
                ('status', models.CharField(choices=[('PENDING', 'Pending'), ('SENT', 'Sent'), ('FAILED', 'Failed (will be retried)')], default='PENDING', max_length=10)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('last_error', models.CharField(blank=True, default='', max_length=500)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('window', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='notifications', to='trialreads.confirmationwindow')),
                ('contact', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='notifications', to='trialreads.sponsorcontact')),
            ],
            options={
                'ordering': ['window', 'created_at', 'pk'],
            },
        ),
        migrations.AddIndex(
            model_name='confirmationwindow',
            index=models.Index(fields=['closed_at', 'window_end'], name='confirmation_window_open_end'),
        ),
        migrations.AddConstraint(
            model_name='confirmationwindow',
            constraint=models.UniqueConstraint(fields=('subject', 'criterion', 'timepoint'), name='confirmation_window_one_per_timepoint'),
        ),
        migrations.AddConstraint(
            model_name='confirmationwindow',
            constraint=models.UniqueConstraint(condition=models.Q(('closed_at__isnull', True)), fields=('subject', 'criterion'), name='confirmation_window_one_open'),
        ),
        migrations.AddConstraint(
            model_name='confirmationwindow',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('closed_at__isnull', True), ('outcome', '')), models.Q(('closed_at__isnull', False), models.Q(('outcome', ''), _negated=True)), _connector='OR'), name='confirmation_window_closed_iff_outcome'),
        ),
        migrations.AddConstraint(
            model_name='confirmationwindow',
            constraint=models.CheckConstraint(condition=models.Q(('window_start__lte', models.F('window_end'))), name='confirmation_window_ordered'),
        ),
        migrations.AddConstraint(
            model_name='sponsorcontact',
            constraint=models.UniqueConstraint(fields=('trial', 'email'), name='sponsor_contact_unique_email'),
        ),
        migrations.AddConstraint(
            model_name='sponsorcontact',
            constraint=models.CheckConstraint(condition=models.Q(('webhook_url', ''), models.Q(('webhook_secret', ''), _negated=True), _connector='OR'), name='sponsor_contact_webhook_has_secret'),
        ),
        migrations.AddConstraint(
            model_name='confirmationnotification',
            constraint=models.UniqueConstraint(fields=('window', 'contact', 'kind', 'channel'), name='confirmation_notification_once'),
        ),
    ]
