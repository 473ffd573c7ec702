"""Teaching quizzes: a student's reasoning compared with the engine's, point by point.

``items`` builds the questions (including script-concordance items from the rules), ``grading`` compares
the answers with the engine's reasoning, ``store`` keeps attempts in SQLite, ``export`` writes the items
for an LMS (Moodle XML, GIFT).
"""
