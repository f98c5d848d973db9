-- The wearer's profile, from which the daily summary derives distance, energy and
-- heart-rate zones (analytics/energy.py), and their daily goals. All optional: a figure
-- whose inputs are missing is null, and the app asks for them.
ALTER TABLE bands
    ADD COLUMN height_cm      real CHECK (height_cm BETWEEN 50 AND 250),
    ADD COLUMN weight_kg      real CHECK (weight_kg BETWEEN 10 AND 400),
    ADD COLUMN birth_year     smallint CHECK (birth_year BETWEEN 1900 AND 2100),
    ADD COLUMN sex            text CHECK (sex IN ('female', 'male')),
    ADD COLUMN step_goal      integer CHECK (step_goal BETWEEN 100 AND 100000),
    ADD COLUMN sleep_goal_min integer CHECK (sleep_goal_min BETWEEN 60 AND 960);
