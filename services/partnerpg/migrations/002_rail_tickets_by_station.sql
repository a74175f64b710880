-- The tickets a station's gates admit soon (StationTickets, pushed to rail
-- gates for their offline decisions): valid tickets by origin and departure.
CREATE INDEX rail_tickets_station_valid ON rail_tickets (origin, departure) WHERE status = 'valid';
