"""The home page per role: operators see their work, supervisors the floor, owners and admins the business."""
