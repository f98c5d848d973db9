-- The sedentary "move" reminder, per wearer: on by default (as before), turned off in
-- the wearer's settings (PATCH /bands/{id} sedentary_reminder). The monitor reminds
-- only bands where it is on.
ALTER TABLE bands ADD COLUMN sedentary_reminder boolean NOT NULL DEFAULT true;
